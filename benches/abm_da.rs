//! Placeholders for the agent-based and data-assimilation benches, so
//! `cargo bench` says plainly what this build cannot measure rather than
//! inventing numbers: there is no agent-based model and no assimilation
//! module in this build (`vtwin bench --suite abm|da` says the same).

fn main() {
    println!("abm: not available: no agent-based model in this build");
    println!("da: not available: no data-assimilation module in this build");
}
