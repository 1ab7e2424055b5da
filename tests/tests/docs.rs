//! The README's configuration table lists every setting the binaries accept, with its flag and
//! default, so documentation and code cannot drift apart.

use certstream_shared::config::SETTINGS;

#[test]
fn readme_lists_every_setting() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    for setting in SETTINGS {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{}` |", setting.env)))
            .unwrap_or_else(|| panic!("README.md has no row for {}", setting.env));
        assert!(
            row.contains(&format!("`--{}`", setting.flag)),
            "flag of {} in: {row}",
            setting.env
        );
        assert!(
            row.contains(&format!("`{}`", setting.key)),
            "YAML key of {} in: {row}",
            setting.env
        );
        if !setting.default.is_empty() {
            assert!(
                row.contains(&format!("`{}`", setting.default)),
                "default of {} in: {row}",
                setting.env
            );
        }
    }
}
