//! `agentls skills list`: the skills a task started in the current directory would get
//! (the binary finds them, with the plugins, as a task does; this says what they are).

use std::fmt::Write as _;
use std::path::Path;

use super::Catalog;

/// The report: `warnings` first, then each skill, then the ones shadowed. `home` is
/// `$AGENTLS_HOME`, named when there are no skills at all.
pub fn render<'a>(
    catalog: &Catalog,
    warnings: impl IntoIterator<Item = &'a String>,
    home: &Path,
) -> String {
    let mut text = String::new();
    for warning in warnings {
        let _ = writeln!(text, "warning: {warning}");
    }
    if catalog.skills.is_empty() {
        let _ = writeln!(
            text,
            "No skills found. A skill is a folder with a SKILL.md (front matter `name` and `description`) in .agents/skills of the project, {}, ~/.agents/skills, or an enabled plugin's skills/.",
            home.join("skills").display()
        );
    }
    for skill in &catalog.skills {
        let _ = writeln!(
            text,
            "{} ({}): {}\n  {}",
            skill.name,
            skill.origin.describe(),
            skill.description,
            skill.path.display()
        );
    }
    for hidden in &catalog.shadowed {
        let _ = writeln!(
            text,
            "shadowed: {} in {} (the one in {} is used)",
            hidden.skill.name,
            hidden.skill.path.display(),
            hidden.by.display()
        );
    }
    text
}
