//! Skills: folders holding a `SKILL.md` (the format Codex, Zed and Cline share) whose
//! front matter names the skill and says when to use it. The model is told each skill's
//! name, description and path and reads the rest itself when a task calls for it; `$name`
//! in a request (or `agent/startTask {skills}`) puts the skill's body in that turn.
//!
//! Where they come from, most specific first (a name found twice is the first one's):
//! `.agents/skills` in the task's cwd and each directory above it up to the repository
//! root (deeper first), `$AGENTLS_HOME/skills`, `~/.agents/skills`, and the `skills/`
//! folders of enabled plugins — whose skills are named `<plugin>:<skill>`, as in Codex,
//! so a plugin never shadows the user's own.
//!
//! - `front_matter`: the small YAML reader for the front matter.
//! - `cli`: `agentls skills list`.

pub mod cli;
pub mod front_matter;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "SKILL.md";
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// How far below a root a `SKILL.md` is looked for (`<root>/<group>/<skill>/SKILL.md`
/// is two levels down).
const MAX_DEPTH: usize = 3;

/// Where a skill was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `.agents/skills` in the project.
    Project,
    /// `$AGENTLS_HOME/skills`.
    AgentlsHome,
    /// `~/.agents/skills`.
    UserHome,
    /// An enabled plugin's `skills/`, by the plugin's name.
    Plugin(String),
}

impl Origin {
    pub fn describe(&self) -> String {
        match self {
            Origin::Project => "project".into(),
            Origin::AgentlsHome => "agentls home".into(),
            Origin::UserHome => "~/.agents".into(),
            Origin::Plugin(name) => format!("plugin {name}"),
        }
    }
}

/// A directory skills are looked for in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub dir: PathBuf,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    /// What the model and `$name` call it: the front matter's `name`, after `<plugin>:`
    /// for a plugin's skill.
    pub name: String,
    /// On one line, as the instructions show it.
    pub description: String,
    /// The `SKILL.md`, canonical.
    pub path: PathBuf,
    pub origin: Origin,
}

impl Skill {
    /// The folder the skill's files are in.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(&self.path)
    }

    /// The instructions after the front matter, read now (the file may have changed).
    pub fn body(&self) -> Result<String, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let parsed =
            front_matter::parse(&text).map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(parsed.body.trim().to_string())
    }
}

/// A skill that another with the same name hides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    pub skill: Skill,
    pub by: PathBuf,
}

/// The skills a task can use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Sorted by name.
    pub skills: Vec<Skill>,
    pub shadowed: Vec<Shadowed>,
    /// `SKILL.md` files that could not be used, each saying why.
    pub problems: Vec<String>,
}

/// The roots for a task in `cwd`, most specific first (see the module docs).
/// `plugins`: each enabled plugin's name and `skills/` directory.
pub fn roots(
    agentls_home: &Path,
    user_home: Option<&Path>,
    cwd: &Path,
    plugins: &[(String, PathBuf)],
) -> Vec<Root> {
    let mut roots: Vec<Root> = crate::config::dirs_from_root(cwd)
        .into_iter()
        .rev()
        .map(|dir| Root {
            dir: dir.join(".agents").join("skills"),
            origin: Origin::Project,
        })
        .collect();
    roots.push(Root {
        dir: agentls_home.join("skills"),
        origin: Origin::AgentlsHome,
    });
    if let Some(home) = user_home {
        roots.push(Root {
            dir: home.join(".agents").join("skills"),
            origin: Origin::UserHome,
        });
    }
    roots.extend(plugins.iter().map(|(name, dir)| Root {
        dir: dir.clone(),
        origin: Origin::Plugin(name.clone()),
    }));
    roots
}

impl Catalog {
    /// Every skill below `roots` (most specific first). Hidden directories are skipped;
    /// symlinked skill folders are followed (people link shared skills into these places).
    pub fn discover(roots: &[Root]) -> Catalog {
        let mut catalog = Catalog::default();
        let mut found: Vec<Skill> = Vec::new();
        let mut visited = HashSet::new();
        for root in roots {
            for path in skill_files(&root.dir, &mut visited) {
                match read_skill(&path, &root.origin) {
                    Ok(skill) => found.push(skill),
                    Err(problem) => catalog.problems.push(problem),
                }
            }
        }
        for skill in found {
            match catalog.skills.iter().find(|s| s.name == skill.name) {
                Some(winner) => catalog.shadowed.push(Shadowed {
                    by: winner.path.clone(),
                    skill,
                }),
                None => catalog.skills.push(skill),
            }
        }
        catalog.skills.sort_by(|a, b| a.name.cmp(&b.name));
        catalog
    }

    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.iter().find(|s| s.name == name)
    }

    /// The skills a request invokes: those named in `explicit` (`startTask {skills}`),
    /// then those `text` names as `$name`; and a warning for each explicit name no skill
    /// has.
    pub fn invoked(&self, explicit: &[String], text: &str) -> (Vec<&Skill>, Vec<String>) {
        let mut invoked: Vec<&Skill> = Vec::new();
        let mut unknown = Vec::new();
        for name in explicit {
            match self.get(name) {
                Some(skill) if invoked.iter().any(|s| s.name == skill.name) => {}
                Some(skill) => invoked.push(skill),
                None => unknown.push(format!(
                    "there is no skill `{name}`, so the task runs without it; {}",
                    self.known()
                )),
            }
        }
        for skill in self.mentioned(text) {
            if !invoked.iter().any(|s| s.name == skill.name) {
                invoked.push(skill);
            }
        }
        (invoked, unknown)
    }

    /// The skills there are, for messages.
    fn known(&self) -> String {
        if self.skills.is_empty() {
            return "no skills were found (`agentls skills list` shows where they are looked for)"
                .into();
        }
        let names: Vec<&str> = self.skills.iter().map(|s| s.name.as_str()).collect();
        format!("the skills are: {}", names.join(", "))
    }

    /// The skills `text` names as `$name`, in the order first named. A `$` after a
    /// letter or digit (`a$b`) is not a mention, nor is a name no skill has (`$HOME`).
    pub fn mentioned(&self, text: &str) -> Vec<&Skill> {
        let mut named: Vec<&Skill> = Vec::new();
        let bytes = text.as_bytes();
        for (at, _) in text.match_indices('$') {
            if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let rest = &text[at + 1..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':')))
                .unwrap_or(rest.len());
            // A sentence may end right after the name: `use $deploy:` or `$deploy-`.
            let name = rest[..end].trim_end_matches([':', '-']);
            if let Some(skill) = self.get(name)
                && !named.iter().any(|s| s.name == skill.name)
            {
                named.push(skill);
            }
        }
        named
    }
}

/// The `SKILL.md` files below `root`, in a stable order: a folder holding one is a skill
/// and is not searched further.
fn skill_files(root: &Path, visited: &mut HashSet<PathBuf>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut queue = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = queue.pop() {
        let Ok(canonical) = dir.canonicalize() else {
            continue;
        };
        if !canonical.is_dir() || !visited.insert(canonical.clone()) {
            continue;
        }
        let skill = canonical.join(FILE_NAME);
        if skill.is_file() && depth > 0 {
            files.push(skill);
            continue;
        }
        if depth == MAX_DEPTH {
            continue;
        }
        // Popped from the end: reversed, so siblings come out in name order.
        let mut children = subdirectories(&canonical);
        children.reverse();
        queue.extend(children.into_iter().map(|c| (c, depth + 1)));
    }
    files
}

/// The subdirectories of `dir` that are not hidden (no leading `.`), symlinks followed, in
/// name order; none if it cannot be read. (Plugins are listed the same way.)
pub(crate) fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn read_skill(path: &Path, origin: &Origin) -> Result<Skill, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("skill {} cannot be read: {e}", path.display()))?;
    let problem = |what: String| format!("skill {} is not used: {what}", path.display());
    let parsed = front_matter::parse(&text).map_err(problem)?;
    let field = |key: &str, max: usize| -> Result<String, String> {
        let value = parsed
            .fields
            .get(key)
            .map(|v| one_line(v))
            .unwrap_or_default();
        if value.is_empty() {
            return Err(problem(format!("its front matter has no `{key}`")));
        }
        let chars = value.chars().count();
        if chars > max {
            return Err(problem(format!(
                "its `{key}` is {chars} characters long, more than the {max} allowed"
            )));
        }
        Ok(value)
    };
    let name = field("name", MAX_NAME_CHARS)?;
    let description = field("description", MAX_DESCRIPTION_CHARS)?;
    let name = match origin {
        Origin::Plugin(plugin) => format!("{plugin}:{name}"),
        _ => name,
    };
    Ok(Skill {
        name,
        description,
        path: path.to_path_buf(),
        origin: origin.clone(),
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_skill(dir: &Path, name: &str, description: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join(FILE_NAME),
            format!("---\nname: {name}\ndescription: {description}\n---\nDo {name} things.\n"),
        )
        .unwrap();
    }

    #[test]
    fn the_deeper_skill_wins_and_plugin_skills_are_namespaced() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        let sub = repo.join("crates/app");
        write_skill(&repo.join(".agents/skills/deploy"), "deploy", "root deploy");
        write_skill(&sub.join(".agents/skills/deploy"), "deploy", "app deploy");
        let home = tmp.path().join("agentls");
        write_skill(&home.join("skills/review"), "review", "home review");
        let user = tmp.path().join("user");
        write_skill(
            &user.join(".agents/skills/group/review"),
            "review",
            "user review",
        );
        let plugin = tmp.path().join("plugin/skills");
        write_skill(&plugin.join("deploy"), "deploy", "plugin deploy");

        let roots = roots(&home, Some(&user), &sub, &[("ops".into(), plugin)]);
        let catalog = Catalog::discover(&roots);
        let shown: Vec<(&str, &str)> = catalog
            .skills
            .iter()
            .map(|s| (s.name.as_str(), s.description.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("deploy", "app deploy"),
                ("ops:deploy", "plugin deploy"),
                ("review", "home review"),
            ]
        );
        let hidden: Vec<&str> = catalog
            .shadowed
            .iter()
            .map(|s| s.skill.description.as_str())
            .collect();
        assert_eq!(hidden, ["root deploy", "user review"]);
        assert_eq!(
            catalog.get("ops:deploy").unwrap().body().unwrap(),
            "Do deploy things."
        );
    }

    #[test]
    fn a_broken_skill_is_a_problem_not_a_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("skills");
        write_skill(&root.join("good"), "good", "fine");
        std::fs::create_dir_all(root.join("nameless")).unwrap();
        std::fs::write(root.join("nameless/SKILL.md"), "---\ndescription: d\n---\n").unwrap();
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        write_skill(&root.join("long"), "long", &long);
        write_skill(&root.join(".hidden"), "hidden", "skipped");
        let catalog = Catalog::discover(&[Root {
            dir: root,
            origin: Origin::AgentlsHome,
        }]);
        assert_eq!(catalog.skills.len(), 1, "{catalog:#?}");
        assert_eq!(catalog.problems.len(), 2, "{:#?}", catalog.problems);
        assert!(catalog.problems.iter().any(|p| p.contains("has no `name`")));
        assert!(
            catalog
                .problems
                .iter()
                .any(|p| p.contains("1025 characters long"))
        );
    }

    #[test]
    fn mentions_are_skill_names_after_a_dollar() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("skills");
        write_skill(&root.join("a"), "deploy", "d");
        write_skill(&root.join("b"), "fix-ci", "f");
        let catalog = Catalog::discover(&[Root {
            dir: root,
            origin: Origin::AgentlsHome,
        }]);
        let names = |text: &str| -> Vec<String> {
            catalog
                .mentioned(text)
                .iter()
                .map(|s| s.name.clone())
                .collect()
        };
        assert_eq!(
            names("use $fix-ci, then $deploy: and $deploy again"),
            ["fix-ci", "deploy"]
        );
        assert!(names("echo $HOME a$deploy $deployment").is_empty());
    }
}
