//! Placeholder for the agent-based bench, so `cargo bench` says plainly
//! what this build cannot measure instead of inventing numbers (`vtwin bench
//! --suite abm` says the same).

fn main() {
    println!("abm: not available: no agent-based model in this build");
}
