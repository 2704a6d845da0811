//! Peak memory bandwidth of known GPUs (vendor data sheets) and the
//! roofline arithmetic of the RD kernels.
//!
//! Roofline: an explicit RD step on `NS` f32 species must read each
//! species at every site once and write it once, so at least 2·4·NS bytes
//! move per site update (16 B for Gray–Scott; neighbour reads hit cache).
//! At peak bandwidth B the single-step kernel can reach at most
//! B / (8·NS) site updates per second. The fused kernel moves
//! (SIDE²·NS·4 + TILE²·NS·4) bytes per TILE² sites per dispatch of K steps.
//!
//! Owns: the table and the byte counts. Never measures anything.

/// (substring of the adapter name, peak GB/s), most specific first.
/// Sources: NVIDIA and AMD product data sheets (HBM/GDDR peak).
pub const KNOWN_GPUS: &[(&str, f64)] = &[
    ("H200", 4800.0),
    ("GH200", 4000.0),
    ("H100 NVL", 3900.0),
    ("H100 PCIe", 2039.0),
    ("H100", 3350.0),
    ("A100 80GB PCIe", 1935.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100", 1555.0),
    ("L40S", 864.0),
    ("L40", 864.0),
    ("L4", 300.0),
    ("A10G", 600.0),
    ("A10", 600.0),
    ("V100", 900.0),
    ("T4", 320.0),
    ("RTX 4090", 1008.0),
    ("RTX 4080", 717.0),
    ("RTX 3090", 936.0),
    ("RTX 3080", 760.0),
    ("MI300X", 5300.0),
    ("MI250X", 3277.0),
];

/// Peak bandwidth and where it came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Peak {
    pub gbs: f64,
    /// `"--peak-gbs"` or `"table: <entry>"`.
    pub source: String,
}

/// The peak for an adapter name: `--peak-gbs` wins; else the first table
/// entry the name contains (case-insensitive); else unknown.
pub fn peak_for(adapter_name: Option<&str>, given: Option<f64>) -> Option<Peak> {
    if let Some(g) = given {
        return Some(Peak {
            gbs: g,
            source: "--peak-gbs".into(),
        });
    }
    let name = adapter_name?.to_lowercase();
    KNOWN_GPUS
        .iter()
        .find(|(k, _)| name.contains(&k.to_lowercase()))
        .map(|(k, g)| Peak {
            gbs: *g,
            source: format!("table: {k}"),
        })
}

/// Bytes a single-step kernel must move per site update (`fields` f32
/// species, each read once and written once).
pub fn single_step_bytes(fields: u32) -> f64 {
    2.0 * 4.0 * fields as f64
}

/// Bytes the fused kernel moves per site update: per dispatch a block
/// reads SIDE² sites and writes TILE², for TILE² sites × `halo` steps.
pub fn fused_bytes(fields: u32, tile: u32, halo: u32) -> f64 {
    let side = (tile + 2 * halo) as f64;
    let t2 = (tile * tile) as f64;
    4.0 * fields as f64 * (side * side + t2) / (t2 * halo as f64)
}

/// Site updates per second at the roofline.
pub fn roofline_cell_updates(peak_gbs: f64, bytes_per_update: f64) -> f64 {
    peak_gbs * 1e9 / bytes_per_update
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_resolve_to_the_specific_entry() {
        let p = |n: &str| peak_for(Some(n), None).map(|p| p.gbs);
        assert_eq!(p("NVIDIA H100 80GB HBM3"), Some(3350.0));
        assert_eq!(p("NVIDIA H100 PCIe"), Some(2039.0));
        assert_eq!(p("NVIDIA H200"), Some(4800.0));
        assert_eq!(p("NVIDIA A100-SXM4-80GB"), Some(2039.0));
        assert_eq!(p("NVIDIA A100-SXM4-40GB"), Some(1555.0));
        assert_eq!(p("NVIDIA L40S"), Some(864.0));
        assert_eq!(p("llvmpipe (LLVM 15.0.6, 256 bits)"), None);
        assert_eq!(
            peak_for(Some("llvmpipe"), Some(20.0)).unwrap().source,
            "--peak-gbs"
        );
        assert_eq!(peak_for(None, None), None);
    }

    #[test]
    fn roofline_arithmetic() {
        assert_eq!(single_step_bytes(2), 16.0);
        // H100 SXM: 3350 GB/s / 16 B = 2.09e11 site updates/s.
        assert!((roofline_cell_updates(3350.0, 16.0) - 2.09375e11).abs() < 1.0);
        // 32×32 tile, halo 8: (48² + 32²)·8 B / (1024 · 8) = 3.25 B per update.
        assert!((fused_bytes(2, 32, 8) - 3.25).abs() < 1e-12);
        // Halo 1 costs more than a single step's 16 B: (34² + 32²)·8 / 1024.
        assert!(fused_bytes(2, 32, 1) > single_step_bytes(2));
    }
}
