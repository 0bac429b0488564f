// `sqlx::migrate!` embeds the migration files, but on stable Rust the compiler only
// notices edits to files it already embedded; a new migration file needs this.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
