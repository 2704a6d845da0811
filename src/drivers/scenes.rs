//! A scene as every command loads it: the scene layer's parse and checks,
//! then the method sections the scene keeps raw (`[cohort]`,
//! `[calibrate]`), parsed by the modules that own them. A misspelt key in
//! any section stops every command at load, with the file, line and key,
//! whichever command reads the section.
//!
//! Owns: which raw sections are checked at load. The section types and
//! their messages belong to their methods (`cohort::CohortSpec`,
//! `calibrate::CalibrateConfig`).

use crate::input::scene::{Scene, SceneError};
use crate::methods::calibrate::CalibrateConfig;
use crate::methods::cohort::CohortSpec;
use std::path::Path;

/// Reads and checks the scene file at `path`, method sections included.
pub fn load(path: &Path) -> Result<Scene, SceneError> {
    let scene = Scene::load(path)?;
    check_sections(&scene)?;
    Ok(scene)
}

/// Parses and checks scene text as if it were the file `path`, method
/// sections included.
pub fn parse(path: &Path, text: &str) -> Result<Scene, SceneError> {
    let scene = Scene::parse(path, text)?;
    check_sections(&scene)?;
    Ok(scene)
}

/// Parses the raw method sections of `scene`, for their errors only.
pub fn check_sections(scene: &Scene) -> Result<(), SceneError> {
    CohortSpec::from_scene(scene)?;
    CalibrateConfig::from_scene(scene)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "[model]\nkind = \"gray_scott\"\n[grid]\nnx = 8\nny = 8\n[time]\ndt = 1.0\nsteps = 2\n";

    #[test]
    fn a_misspelt_key_in_a_method_section_fails_at_load() {
        let p = Path::new("s.toml");
        assert!(parse(p, HEAD).is_ok());
        for (section, line) in [
            ("[cohort]\npatientz = 3\n", 11),
            ("[calibrate]\nmethd = \"abc-smc\"\n", 11),
        ] {
            let text = format!("{HEAD}\n{section}");
            assert!(
                Scene::parse(p, &text).is_ok(),
                "the scene layer keeps {section} raw"
            );
            let e = parse(p, &text).expect_err(section).to_string();
            assert!(e.starts_with(&format!("s.toml:{line}:")), "{e}");
            assert!(e.contains("unknown field"), "{e}");
        }
    }
}
