use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // The embedded Solana runtime logs every bank and RPC call at info: keep ours only.
            EnvFilter::try_from_env("STK_LOG").unwrap_or_else(|_| {
                EnvFilter::new("warn,tarpc=error,solana_metrics=error,stk_indexer=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match stk_indexer::cli::run(stk_indexer::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
