// Records the git commit vtwin is built from (manifests, bench JSON).
// Absent git or repository: VTWIN_COMMIT is unset and manifests say null.
fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    if let Ok(out) = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
    {
        if out.status.success() {
            let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if s.len() == 40 {
                println!("cargo:rustc-env=VTWIN_COMMIT={s}");
            }
        }
    }
}
