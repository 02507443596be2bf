//! `herald users set-password`: set or reset a user's console password, straight in the
//! database (as `herald keys rotate` works), so the first password needs no running server.

use std::io::BufRead;
use std::path::PathBuf;

use chrono::Utc;
use herald_domain::{AuditId, PrincipalKind};
use herald_store::{AuditEntry, Store};

#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// Set or reset a user's console password. Reads it from the first line of standard
    /// input, so it never appears in the process list or shell history. Ends the user's
    /// console sessions.
    SetPassword(SetPasswordArgs),
}

#[derive(clap::Args)]
pub struct SetPasswordArgs {
    /// The user's name (e.g. admin, the bootstrap owner).
    user: String,
    /// The user's organisation.
    #[arg(long, default_value = "default")]
    org: String,
    /// The same database as `herald serve`.
    #[arg(long, env = "HERALD_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the embedded database lives when no database URL is given.
    #[arg(long, env = "HERALD_DATA_DIR", default_value = "./herald-data")]
    data_dir: PathBuf,
}

pub async fn run(command: UsersCommand) -> Result<(), String> {
    match command {
        UsersCommand::SetPassword(args) => set_password(args).await,
    }
}

async fn set_password(args: SetPasswordArgs) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    let hash = herald_console::hash_password(&password).map_err(|e| format!("the password {e}"))?;
    let url = herald_server::config::database_url(args.database_url.as_deref(), &args.data_dir);
    let store = Store::connect(&url).await.map_err(|e| {
        format!(
            "cannot open the database: {}",
            herald_server::error_chain(&e)
        )
    })?;
    let result = async {
        let org = store
            .find_org(&args.org)
            .await
            .map_err(db)?
            .ok_or_else(|| format!("no organisation is named {}", args.org))?;
        let user = store
            .find_principal(&org, PrincipalKind::User, &args.user)
            .await
            .map_err(db)?
            .ok_or_else(|| format!("{} has no user named {}", args.org, args.user))?;
        store
            .set_password_hash(&org, &user.id, &hash, Utc::now())
            .await
            .map_err(db)?;
        let ended = store.delete_sessions_of(&org, &user.id).await.map_err(db)?;
        store
            .insert_audit(&AuditEntry {
                id: AuditId::generate(),
                org_id: org,
                at: Utc::now(),
                actor_id: None,
                token_id: None,
                source: Some("cli".into()),
                action: "principal.set_password".into(),
                resource_type: "principal".into(),
                resource_id: user.id.to_string(),
                details: None,
            })
            .await
            .map_err(db)?;
        Ok::<_, String>(ended)
    }
    .await;
    store.close().await;
    let ended = result?;
    println!(
        "password set for {} in {}; {ended} console session(s) ended",
        args.user, args.org
    );
    Ok(())
}

fn db(error: herald_store::StoreError) -> String {
    format!("database error: {}", herald_server::error_chain(&error))
}
