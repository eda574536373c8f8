//! [`CallerTasks`]: MCP tasks (SEP-2663) bound to the caller who created them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rmcp::ErrorData;
use rmcp::model::{DetailedTask, Task};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::task_manager::{TaskContext, TaskFuture, TaskManager, TaskOptions};

use crate::identity::{MISSING_FIX, auth_context};
use crate::session::Owner;

/// rmcp's [`TaskManager`] with every task bound to the verified caller who created it.
///
/// A task's id travels: it is in the `CreateTaskResult`, in the client's logs, in the
/// `Mcp-Name` header of every `tasks/*` request. With a bare `TaskManager`, anyone who learns
/// one reads the task's result (`tasks/get`), answers its input requests (`tasks/update`) or
/// cancels it. Here a task belongs to who created it — issuer, subject, client and current
/// actor, the binding sessions use — and a `tasks/get`, `tasks/update` or `tasks/cancel` from
/// anyone else gets **exactly the answer an unknown task id gets** (rmcp's `-32602 unknown
/// task`), so it learns nothing, not even that the task exists. A task created without
/// credentials (an endpoint in optional mode) is open to anonymous requests only. A request
/// that authgent did not authenticate (a service not mounted with
/// [`McpAuth::router`](crate::McpAuth::router)) is refused with `internal_error` naming the
/// fix: the binding never fails open.
///
/// Clones share the same tasks: build one per server and clone it into each handler.
///
/// ```
/// use authgent_rmcp::CallerTasks;
/// use rmcp::{ErrorData, ServerHandler};
/// use rmcp::model::*;
/// use rmcp::service::{RequestContext, RoleServer};
/// use rmcp::task_manager::TaskOptions;
///
/// #[derive(Clone)]
/// struct Reports { tasks: CallerTasks }
///
/// impl ServerHandler for Reports {
///     async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>)
///         -> Result<CallToolResponse, ErrorData> {
///         let task = self.tasks.spawn(&context, TaskOptions::new(), |_ctx| Box::pin(async {
///             Ok(CallToolResult::success(vec![ContentBlock::text("the report")]))
///         }))?;
///         Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
///     }
///     async fn get_task(&self, request: GetTaskParams, context: RequestContext<RoleServer>)
///         -> Result<GetTaskResult, ErrorData> {
///         Ok(GetTaskResult::new(self.tasks.get_task(&context, &request.task_id)?))
///     }
///     async fn update_task(&self, request: UpdateTaskParams, context: RequestContext<RoleServer>)
///         -> Result<(), ErrorData> {
///         self.tasks.update_task(&context, &request.task_id, request.input_responses)
///     }
///     async fn cancel_task(&self, request: CancelTaskParams, context: RequestContext<RoleServer>)
///         -> Result<(), ErrorData> {
///         self.tasks.cancel_task(&context, &request.task_id)
///     }
///     fn get_info(&self) -> ServerConfig {
///         ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_tasks().build())
///     }
/// }
/// ```
#[derive(Clone, Default)]
pub struct CallerTasks {
    manager: TaskManager,
    owners: Arc<Mutex<Owners>>,
}

impl std::fmt::Debug for CallerTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerTasks")
            .field("tasks", &self.owners().by_task.len())
            .finish()
    }
}

/// The owner of each task rmcp may still know, and when to look for forgotten ones.
#[derive(Default)]
struct Owners {
    by_task: HashMap<String, Owner>,
    prune_at: usize,
}

/// Forgotten tasks are pruned when the map has doubled since the last pruning, at the
/// earliest at this many entries: amortised constant work per task.
const PRUNE_FLOOR: usize = 64;

impl CallerTasks {
    /// An empty task store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns `make_future` as a task (rmcp's [`TaskManager::spawn`]) owned by the caller of
    /// `context`, and returns its seed state for a `CreateTaskResult`.
    pub fn spawn<F>(
        &self,
        context: &RequestContext<RoleServer>,
        options: TaskOptions,
        make_future: F,
    ) -> Result<Task, ErrorData>
    where
        F: FnOnce(TaskContext) -> TaskFuture,
    {
        let owner = owner(context)?;
        // Recorded before anyone can learn the id: the id is returned only after this.
        let task = self.manager.spawn(options, make_future);
        let mut owners = self.owners();
        owners.by_task.insert(task.task_id.clone(), owner);
        if owners.by_task.len() >= owners.prune_at.max(PRUNE_FLOOR) {
            let manager = &self.manager;
            owners.by_task.retain(|id, _| manager.get_task(id).is_ok());
            owners.prune_at = owners.by_task.len() * 2;
        }
        Ok(task)
    }

    /// `tasks/get` for the caller of `context`: the task's state if they created it.
    pub fn get_task(
        &self,
        context: &RequestContext<RoleServer>,
        task_id: &str,
    ) -> Result<DetailedTask, ErrorData> {
        self.check(context, task_id)?;
        self.forgotten_if_unknown(task_id, self.manager.get_task(task_id))
    }

    /// `tasks/update` for the caller of `context`: delivers `input_responses` to a task they
    /// created.
    pub fn update_task(
        &self,
        context: &RequestContext<RoleServer>,
        task_id: &str,
        input_responses: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Result<(), ErrorData> {
        self.check(context, task_id)?;
        let updated = self.manager.update_task(task_id, input_responses);
        self.forgotten_if_unknown(task_id, updated)
    }

    /// `tasks/cancel` for the caller of `context`: requests cancellation of a task they
    /// created.
    pub fn cancel_task(
        &self,
        context: &RequestContext<RoleServer>,
        task_id: &str,
    ) -> Result<(), ErrorData> {
        self.check(context, task_id)?;
        self.forgotten_if_unknown(task_id, self.manager.cancel_task(task_id))
    }

    /// The underlying manager, for what needs no caller (`running_task_count`, `shutdown`).
    /// Its `get_task`/`update_task`/`cancel_task` skip the binding: answer `tasks/*`
    /// requests with this type's methods.
    pub fn manager(&self) -> &TaskManager {
        &self.manager
    }

    /// Refuses, as for an unknown task, anyone but the task's owner.
    fn check(&self, context: &RequestContext<RoleServer>, task_id: &str) -> Result<(), ErrorData> {
        let caller = owner(context)?;
        match self.owners().by_task.get(task_id) {
            Some(owner) if *owner == caller => Ok(()),
            _ => Err(unknown_task(task_id)),
        }
    }

    /// Forgets the owner of a task rmcp has forgotten (expired).
    fn forgotten_if_unknown<T>(
        &self,
        task_id: &str,
        answer: Result<T, ErrorData>,
    ) -> Result<T, ErrorData> {
        if answer.is_err() && self.manager.get_task(task_id).is_err() {
            self.owners().by_task.remove(task_id);
        }
        answer
    }

    fn owners(&self) -> MutexGuard<'_, Owners> {
        // The map stays consistent whatever panicked while holding it (every update is one
        // insert, remove or retain).
        self.owners.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Who is calling, as a task owner; refuses a request authgent did not authenticate.
fn owner(context: &RequestContext<RoleServer>) -> Result<Owner, ErrorData> {
    auth_context(context)
        .map(Owner::of)
        .ok_or_else(|| ErrorData::internal_error(MISSING_FIX, None))
}

/// Exactly rmcp's answer for an unknown task id (SEP-2663 §Protocol Errors: `-32602`), so a
/// refusal says nothing about whether the task exists.
fn unknown_task(task_id: &str) -> ErrorData {
    ErrorData::invalid_params(format!("unknown task: {task_id}"), None)
}
