#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Print a new random master key, for HERALD_MASTER_KEY.
    Generate,
}

pub fn run(command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::Generate => println!("{}", herald_crypto::MasterKey::generate().to_base64()),
    }
    Ok(())
}
