//! Every Rust snippet of the README, the guides and the crate READMEs, built as a reader would
//! build it: in a crate of its own whose `Cargo.toml` holds exactly the dependencies the page
//! shows (the nearest ```` ```toml ```` block before the snippet), with the authgent crates
//! taken from this checkout. The facade's doc tests compile the same snippets, but with the
//! facade's own dev-dependencies at hand, so a dependency missing from the page went unseen
//! (issue 23, item 10a).
//!
//! Snippets that show the same dependencies share one crate (one `src/bin/*.rs` each); every
//! crate shares one target directory and starts from the workspace's `Cargo.lock`, so nothing
//! is resolved anew. `cargo check` is enough: a missing dependency, feature or import fails
//! there. A snippet without `fn main` is wrapped in one, as rustdoc does; lines starting with
//! `# ` are rustdoc's hidden lines and are kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::interop::{target_dir, workspace_root};

/// One snippet: where it is, its code, and the dependencies shown before it.
struct Snippet {
    place: String,
    code: String,
    toml: Option<String>,
}

/// The pages whose snippets a reader copies.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md")];
    for dir in ["docs", "crates"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .map(|p| if p.is_dir() { p.join("README.md") } else { p })
            .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
            .collect();
        found.sort();
        pages.extend(found);
    }
    pages
}

/// The snippets of one page, each with the TOML block shown last before it.
fn snippets(root: &Path, page: &Path) -> Result<Vec<Snippet>, String> {
    let text = std::fs::read_to_string(page).map_err(|e| format!("{}: {e}", page.display()))?;
    let name = page
        .strip_prefix(root)
        .unwrap_or(page)
        .display()
        .to_string();
    let mut out = Vec::new();
    let mut toml: Option<String> = None;
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let info = info.trim();
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if info == "toml" {
            toml = Some(body);
        } else if info.split(',').next() == Some("rust") && !info.contains("ignore") {
            out.push(Snippet {
                place: format!("{name}:{}", n + 1),
                code: body,
                toml: toml.clone(),
            });
        }
    }
    Ok(out)
}

/// The `[dependencies]` of a snippet crate from a page's TOML block: `[dev-dependencies]`
/// count too (a snippet is a test there), and authgent crates point at this checkout.
fn dependencies(root: &Path, toml: &str) -> Result<String, String> {
    // name -> its line; a crate in both sections keeps the later (dev) line, a superset.
    let mut deps: Vec<(String, String)> = Vec::new();
    for line in toml.lines() {
        let line = strip_comment(line).trim_end();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('[') {
            if !matches!(trimmed, "" | "[dependencies]" | "[dev-dependencies]") {
                return Err(format!(
                    "a TOML block with {trimmed}: only dependencies are shown"
                ));
            }
            continue;
        }
        let Some((name, spec)) = trimmed.split_once('=') else {
            return Err(format!("not a dependency line: {trimmed:?}"));
        };
        let name = name.trim();
        let spec = spec.trim();
        if name == "authgent" || name.starts_with("authgent-") {
            let path = root.join("crates").join(name);
            let path = format!("path = {:?}", path.display().to_string());
            let mut fields = vec![path];
            if !spec.starts_with('"') {
                let inner = spec.trim_start_matches('{').trim_end_matches('}');
                fields.extend(
                    inner
                        .split(',')
                        .map(str::trim)
                        .filter(|part| !part.is_empty() && !part.starts_with("version"))
                        .map(str::to_owned),
                );
            }
            let local = format!("{{ {} }}", fields.join(", "));
            deps.retain(|(n, _)| n != name);
            deps.push((name.to_owned(), format!("{name} = {local}\n")));
        } else {
            deps.retain(|(n, _)| n != name);
            deps.push((name.to_owned(), format!("{name} = {spec}\n")));
        }
    }
    Ok(deps.into_iter().map(|(_, line)| line).collect())
}

/// `line` without a trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The snippet as a binary's source: rustdoc's hidden lines shown, wrapped in `main` when it
/// has none.
fn source(code: &str) -> String {
    let code: String = code
        .lines()
        .map(|l| {
            if l == "#" {
                ""
            } else {
                l.strip_prefix("# ").unwrap_or(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Unused items are normal in a snippet; a field never read is not (issue 23, item 10f:
    // rmcp's `#[tool_handler]` without `router = self.tool_router` never reads the field).
    let header = "#![allow(unused)]\n#![warn(dead_code)]\n";
    if code.contains("fn main(") {
        format!("{header}{code}\n")
    } else {
        format!("{header}fn main() {{\n{code}\n}}\n")
    }
}

/// Builds every snippet in a crate made of its page's TOML; an error names each snippet that
/// has no TOML before it or does not build.
pub(crate) fn check() -> Result<(), String> {
    let root = workspace_root();
    let mut groups: BTreeMap<String, Vec<Snippet>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut count = 0;
    for page in pages(&root) {
        for snippet in snippets(&root, &page)? {
            count += 1;
            match &snippet.toml {
                None => problems.push(format!(
                    "{}: no ```toml block with its dependencies before this snippet",
                    snippet.place
                )),
                Some(toml) => match dependencies(&root, toml) {
                    Ok(deps) => groups.entry(deps).or_default().push(snippet),
                    Err(e) => problems.push(format!("{}: {e}", snippet.place)),
                },
            }
        }
    }
    let base = target_dir().join("doc-snippets");
    let shared_target = base.join("target");
    let lock = std::fs::read(root.join("Cargo.lock")).map_err(|e| e.to_string())?;
    for (n, (deps, snippets)) in groups.iter().enumerate() {
        let dir = base.join(format!("crate-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src/bin")).map_err(|e| e.to_string())?;
        let manifest = format!(
            "[package]\nname = \"doc-snippets-{n}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[workspace]\n\n[dependencies]\n{deps}"
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("Cargo.lock"), &lock).map_err(|e| e.to_string())?;
        let mut places = BTreeMap::new();
        for (i, s) in snippets.iter().enumerate() {
            let bin = format!("snippet_{i}");
            std::fs::write(dir.join(format!("src/bin/{bin}.rs")), source(&s.code))
                .map_err(|e| e.to_string())?;
            places.insert(bin, s.place.clone());
        }
        let out = Command::new("cargo")
            .args(["check", "--bins", "--quiet", "--message-format", "short"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &shared_target)
            .env_remove("RUSTFLAGS")
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        for warning in stderr.lines().filter(|l| l.contains("is never read")) {
            let bin = places
                .iter()
                .find(|(bin, _)| warning.contains(&format!("src/bin/{bin}.rs")));
            let place = bin.map_or(dir.display().to_string(), |(_, place)| place.clone());
            problems.push(format!("{place}: {warning}"));
        }
        if !out.status.success() {
            // Name each failing snippet by its page and line.
            let failing: Vec<&String> = places
                .iter()
                .filter(|(bin, _)| stderr.contains(&format!("src/bin/{bin}.rs")))
                .map(|(_, place)| place)
                .collect();
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("error"))
                .take(8)
                .collect();
            problems.push(format!(
                "{} do not build with the dependencies their page shows ({}):\n      {}",
                if failing.is_empty() {
                    format!("the snippets of {}", dir.display())
                } else {
                    failing
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                deps.lines().collect::<Vec<_>>().join("; "),
                errors.join("\n      ")
            ));
        }
    }
    if problems.is_empty() {
        eprintln!(
            "==> xtask: {count} snippets built in {} crates from their pages' dependencies",
            groups.len()
        );
        Ok(())
    } else {
        Err(format!(
            "{} problem(s) in the docs' snippets:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authgent_dependencies_point_at_the_checkout_and_comments_go() {
        let root = Path::new("/repo");
        let deps = dependencies(
            root,
            "[dependencies]\nauthgent = { version = \"0.1\", features = [\"axum\"] }\n\
             axum = \"0.8\"\nauthgent-core = \"0.1\"   # re-exported\n",
        )
        .unwrap();
        assert_eq!(
            deps,
            "authgent = { path = \"/repo/crates/authgent\", features = [\"axum\"] }\n\
             axum = \"0.8\"\nauthgent-core = { path = \"/repo/crates/authgent-core\" }\n"
        );
        assert!(dependencies(root, "[package]\nname = \"x\"").is_err());
    }

    #[test]
    fn hidden_lines_are_kept_and_main_is_added_when_missing() {
        assert_eq!(
            source("# use a::b;\nlet x = 1;\n"),
            "#![allow(unused)]\n#![warn(dead_code)]\nfn main() {\nuse a::b;\nlet x = 1;\n}\n"
        );
        assert!(source("fn main() {}\n").ends_with("#![warn(dead_code)]\nfn main() {}\n"));
    }
}
