use std::path::PathBuf;

use herald_crypto::SecretBox;
use herald_store::Store;

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Print a new random master key, for HERALD_MASTER_KEY.
    Generate,
    /// Rewrap every integration config under the first key of HERALD_MASTER_KEY. Safe while
    /// servers run, if each was started with the same "NEW,OLD" key list.
    Rotate(RotateArgs),
}

#[derive(clap::Args)]
pub struct RotateArgs {
    /// The same database as `herald serve`.
    #[arg(long, env = "HERALD_DATABASE_URL")]
    database_url: Option<String>,

    /// Where the embedded database lives when no database URL is given.
    #[arg(long, env = "HERALD_DATA_DIR", default_value = "./herald-data")]
    data_dir: PathBuf,

    /// "NEW,OLD[,…]": configs are rewrapped under NEW; the others only open.
    #[arg(long, env = "HERALD_MASTER_KEY", hide_env_values = true)]
    master_key: String,
}

pub async fn run(command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::Generate => println!("{}", herald_crypto::MasterKey::generate().to_base64()),
        KeysCommand::Rotate(args) => rotate(args).await?,
    }
    Ok(())
}

async fn rotate(args: RotateArgs) -> Result<(), String> {
    let keyring = herald_crypto::parse_keyring(&args.master_key)
        .and_then(SecretBox::from_keys)
        .map_err(|e| format!("HERALD_MASTER_KEY: {e}"))?;
    let url = herald_server::config::database_url(args.database_url.as_deref(), &args.data_dir);
    let store = Store::connect(&url).await.map_err(|e| {
        format!(
            "cannot open the database: {}",
            herald_server::error_chain(&e)
        )
    })?;
    let report = store
        .rotate_master_key(&keyring)
        .await
        .map_err(|e| format!("rotation stopped: {}", herald_server::error_chain(&e)))?;
    store.close().await;
    println!(
        "under key {}: {} rotated, {} already current, {} skipped",
        keyring.current_key_id(),
        report.rotated,
        report.current,
        report.skipped
    );
    if report.skipped > 0 {
        println!("skipped configs changed while rotating; run `herald keys rotate` again");
    }
    if !report.failed.is_empty() {
        for (id, error) in &report.failed {
            eprintln!("{id}: {error}");
        }
        return Err(format!(
            "{} config(s) open with none of the given keys; keep the key they name in HERALD_MASTER_KEY",
            report.failed.len()
        ));
    }
    Ok(())
}
