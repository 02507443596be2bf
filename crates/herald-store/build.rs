// sqlx::migrate! embeds the migrations at compile time; without this a new migration file
// would not rebuild the crate, and a binary could ship without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations_postgres");
}
