//! [`HttpTool`] and [`authorize`]: a rig tool that calls one HTTP service with a token for it.

use serde::de::DeserializeOwned;

use crate::{AgentTools, RunContext, ToolError, ToolHttp};

/// A tool that calls one HTTP service: rig's [`Tool`](rig_core::tool::Tool), except that its
/// `call` sends its requests through a [`ToolHttp`] (which gives each one a token for the
/// service) instead of holding credentials. [`authorize`] makes it a rig tool.
///
/// ```no_run
/// use authgent_rig::{HttpTool, ToolError, ToolHttp};
/// use serde::Deserialize;
///
/// struct SearchTickets;
///
/// #[derive(Deserialize)]
/// struct Query { text: String }
///
/// impl HttpTool for SearchTickets {
///     const NAME: &'static str = "search_tickets";
///     type Args = Query;
///     type Output = serde_json::Value;
///
///     fn description(&self) -> String { "Search the ticket system".into() }
///     fn parameters(&self) -> serde_json::Value {
///         serde_json::json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
///     }
///     async fn call(&self, http: &ToolHttp<'_>, args: Query) -> Result<serde_json::Value, ToolError> {
///         let url = format!("{}/search", http.resource());
///         let response = http.send(http.client().post(url).json(&serde_json::json!({"q": args.text}))).await?;
///         response.json().await.map_err(|e| ToolError::tool(e.to_string()))
///     }
/// }
/// ```
pub trait HttpTool: Sized + Send + Sync + 'static {
    /// The tool's name, as the model calls it.
    const NAME: &'static str;
    /// Its JSON arguments.
    type Args: DeserializeOwned + Send + Sync;
    /// Its answer.
    type Output: rig_core::tool::IntoToolOutput;

    /// What the model reads about the tool.
    fn description(&self) -> String;

    /// The JSON Schema of its arguments.
    fn parameters(&self) -> serde_json::Value;

    /// Runs the tool, sending its requests through `http`.
    fn call(
        &self,
        http: &ToolHttp<'_>,
        args: Self::Args,
    ) -> impl Future<Output = Result<Self::Output, ToolError>> + Send;
}

/// An [`HttpTool`] with the service it calls: a rig [`Tool`](rig_core::tool::Tool). Made by
/// [`authorize`].
#[derive(Debug)]
pub struct Authorized<T> {
    tool: T,
    tools: AgentTools,
    resource: String,
    scope: Option<String>,
}

/// Makes `tool` a rig tool whose requests to `resource` (the service's resource identifier:
/// the token's audience) carry a token for it, asking for `scope` first. On behalf of the
/// run's [`RunContext`] caller when the run has one (`agent.prompt(..).tool_context(..)`),
/// with the agent's own credentials otherwise.
///
/// ```no_run
/// # struct SearchTickets;
/// # impl authgent_rig::HttpTool for SearchTickets {
/// #     const NAME: &'static str = "search_tickets";
/// #     type Args = serde_json::Value;
/// #     type Output = serde_json::Value;
/// #     fn description(&self) -> String { String::new() }
/// #     fn parameters(&self) -> serde_json::Value { serde_json::json!({}) }
/// #     async fn call(&self, _: &authgent_rig::ToolHttp<'_>, a: serde_json::Value) -> Result<serde_json::Value, authgent_rig::ToolError> { Ok(a) }
/// # }
/// # fn demo(tools: authgent_rig::AgentTools, model: rig_core::DynModel<rig_core::operation::Completion>) {
/// let search = authgent_rig::authorize(SearchTickets, &tools, "https://tickets.example.com", Some("tickets:read"));
/// let agent = rig_agent::AgentBuilder::new(model).tool(search).build();
/// # let _ = agent; }
/// ```
pub fn authorize<T: HttpTool>(
    tool: T,
    tools: &AgentTools,
    resource: impl Into<String>,
    scope: Option<&str>,
) -> Authorized<T> {
    Authorized {
        tool,
        tools: tools.clone(),
        resource: resource.into(),
        scope: scope.map(str::to_owned),
    }
}

impl<T: HttpTool> rig_core::tool::Tool for Authorized<T> {
    const NAME: &'static str = T::NAME;
    type Args = T::Args;
    type Output = T::Output;
    type Error = ToolError;

    fn description(&self) -> String {
        self.tool.description()
    }

    fn parameters(&self) -> serde_json::Value {
        self.tool.parameters()
    }

    async fn call(
        &self,
        context: &mut rig_core::tool::ToolContext,
        args: Self::Args,
    ) -> Result<Self::Output, ToolError> {
        let run = RunContext::of(context);
        let http = ToolHttp {
            tools: &self.tools,
            run: run.as_deref(),
            tool: T::NAME,
            resource: &self.resource,
            scope: self.scope.as_deref(),
        };
        self.tool.call(&http, args).await
    }
}
