//! The environment a command gets: the server's own, minus anything that looks like a
//! credential, plus what the user configured.

use std::collections::BTreeMap;

use crate::config::EnvPolicy;

/// Parts of a variable name that mark it as a credential (matched case-insensitively).
const SECRET_MARKERS: [&str; 3] = ["KEY", "SECRET", "TOKEN"];

/// The command's environment, sorted by name.
pub fn command_env(
    inherited: impl IntoIterator<Item = (String, String)>,
    policy: &EnvPolicy,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = inherited
        .into_iter()
        .filter(|(name, _)| policy.ignore_default_excludes || !looks_secret(name))
        .collect();
    env.extend(policy.set.clone());
    env.into_iter().collect()
}

fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|marker| upper.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), "v".to_string()))
            .collect()
    }

    #[test]
    fn credentials_are_dropped_and_the_rest_kept() {
        let env = command_env(
            vars(&[
                "PATH",
                "OPENAI_API_KEY",
                "github_token",
                "AWS_SECRET_ACCESS_KEY",
                "HOME",
            ]),
            &EnvPolicy::default(),
        );
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["HOME", "PATH"]);
    }

    #[test]
    fn configuration_can_keep_and_set_variables() {
        let policy = EnvPolicy {
            ignore_default_excludes: true,
            set: BTreeMap::from([("CI".to_string(), "1".to_string())]),
        };
        let env = command_env(vars(&["NPM_TOKEN"]), &policy);
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["CI", "NPM_TOKEN"]);
    }
}
