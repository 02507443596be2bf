//! `herald org create`: a new organisation (tenant) with an owner and its first token. An
//! operator's command: it talks to the database directly, as `serve` does.

use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum OrgCommand {
    /// Create an organisation, or add an owner token to an existing one; prints the token once.
    Create(CreateArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The organisation's name, unique in this installation.
    name: String,
    /// The owner user to create (or reuse) in it.
    #[arg(long, default_value = "admin")]
    owner: String,
    #[arg(long, env = "HERALD_DATA_DIR", default_value = "./herald-data")]
    data_dir: PathBuf,
    #[arg(long, env = "HERALD_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

pub async fn run(command: OrgCommand) -> Result<(), String> {
    let OrgCommand::Create(args) = command;
    let name = args.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err("the organisation name must be 1 to 200 characters".into());
    }
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/herald.db?mode=rwc", args.data_dir.display()));
    let store = herald_store::Store::connect(&url)
        .await
        .map_err(|e| herald_server::error_chain(&e))?;
    let org = store
        .ensure_org(name)
        .await
        .map_err(|e| herald_server::error_chain(&e))?;
    let token = herald_crypto::generate_token();
    store
        .create_owner_token(&org, &args.owner, &herald_crypto::hash_token(&token))
        .await
        .map_err(|e| herald_server::error_chain(&e))?;
    println!("Organisation `{name}` ({org}): an owner token for `{}`, shown only this once:\n\n    {token}\n", args.owner);
    Ok(())
}
