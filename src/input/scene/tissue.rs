//! The scene-side loader of `[tissue] map`: reads the `.npy` file a scene
//! names (a relative path is taken from the scene's folder) and checks it
//! against the scene's grid, so that models receive the multipliers as an
//! array and never read files. A generated map (`[tissue.generate]`) is
//! drawn by the model from its settings.

use super::{Scene, SceneError};
use std::path::Path;

impl Scene {
    /// The diffusivity multipliers of the scene's `[tissue] map` file, in C
    /// order (ny rows of nx), or `None` when the scene names no map file.
    /// Errors (unreadable file, wrong shape, a multiplier not finite and
    /// > 0) are located at `tissue.map`.
    pub fn tissue_map_file(&self) -> Result<Option<Vec<f32>>, SceneError> {
        let Some(path) = self.file.tissue.as_ref().and_then(|t| t.map.as_ref()) else {
            return Ok(None);
        };
        let full = if path.is_absolute() {
            path.clone()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(path)
        };
        let (shape, data) = crate::output::io::read_npy_f32(&full)
            .map_err(|e| self.error_at("tissue.map", format!("cannot read tissue map: {e}")))?;
        let (nx, ny) = (self.file.grid.nx, self.file.grid.ny);
        if shape != [ny as usize, nx as usize] {
            return Err(self.error_at(
                "tissue.map",
                format!(
                    "{} has shape {shape:?}, the grid needs [{ny}, {nx}] (ny, nx)",
                    full.display(),
                ),
            ));
        }
        if data.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(self.error_at(
                "tissue.map",
                format!(
                    "{}: every multiplier must be finite and > 0",
                    full.display()
                ),
            ));
        }
        Ok(Some(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::io::write_npy_f32;

    fn scene_in(dir: &Path, tissue: &str) -> Scene {
        let text = format!(
            "[model]\nkind = \"gray_scott\"\n[grid]\nnx = 3\nny = 2\n[time]\ndt = 1.0\nsteps = 1\n{tissue}"
        );
        Scene::parse(&dir.join("s.toml"), &text).unwrap()
    }

    #[test]
    fn reads_the_map_next_to_the_scene_and_checks_it() {
        let dir = std::env::temp_dir().join(format!("vtwin-tissue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let values = [1.0, 2.0, 0.5, 1.5, 1.0, 3.0];
        write_npy_f32(&dir.join("ok.npy"), &[2, 3], &values).unwrap();
        write_npy_f32(&dir.join("wide.npy"), &[3, 2], &values).unwrap();
        write_npy_f32(
            &dir.join("zero.npy"),
            &[2, 3],
            &[1.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        )
        .unwrap();
        let map = |name: &str| scene_in(&dir, &format!("[tissue]\nmap = \"{name}\"\n"));
        assert_eq!(
            map("ok.npy").tissue_map_file().unwrap(),
            Some(values.to_vec())
        );
        assert_eq!(
            scene_in(&dir, "").tissue_map_file().unwrap(),
            None,
            "no [tissue]"
        );
        let generated = "[tissue.generate]\nkind = \"blobs\"\nscale = 1.0\n";
        assert_eq!(scene_in(&dir, generated).tissue_map_file().unwrap(), None);
        let e = map("wide.npy").tissue_map_file().unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(10), Some("tissue.map")));
        assert_eq!(
            e.message,
            format!(
                "{} has shape [3, 2], the grid needs [2, 3] (ny, nx)",
                dir.join("wide.npy").display()
            )
        );
        let e = map("zero.npy").tissue_map_file().unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "{}: every multiplier must be finite and > 0",
                dir.join("zero.npy").display()
            )
        );
        let e = map("missing.npy").tissue_map_file().unwrap_err();
        assert!(
            e.message.starts_with("cannot read tissue map: "),
            "{}",
            e.message
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
