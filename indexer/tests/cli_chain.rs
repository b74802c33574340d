//! The operator, member and investor commands end to end: the real `stk-indexer` binary, talking
//! JSON-RPC over HTTP to the project's endpoint on the in-process chain (the real STK program and SPL
//! Token), with keypair files like the Solana CLI's. Error paths included: wrong signer, paused flow,
//! closed window, insufficient funds, a refused confirmation.

use std::{path::PathBuf, process::Stdio};

use anchor_spl::associated_token::get_associated_token_address;
use base64::{prelude::BASE64_STANDARD, Engine};
use serde_json::Value;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_sdk::{
    pubkey::Pubkey, signature::Keypair, signer::Signer, transaction::VersionedTransaction,
};
use stk::{
    client,
    constants::MAX_CHUNK_RECIPIENTS,
    merkle::{Allocation, EpochTree},
    DistributeArgs,
};
use stk_indexer::chain::rpc_server::RpcServer;
use stk_localnet::LocalChain;
use tokio::io::AsyncWriteExt;

const SOL: u64 = 1_000_000_000;
const USDC: u64 = 1_000_000;
const STK: u64 = 1_000_000;

struct Env {
    node: RpcServer,
    dir: tempfile::TempDir,
    admin: Keypair,
    oracles: Vec<Keypair>,
    member: Keypair,
    quote_mint: Pubkey,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Env {
    async fn new() -> Self {
        let mut chain = LocalChain::start().await;
        let admin = Keypair::new();
        let member = Keypair::new();
        let oracles: Vec<Keypair> = (0..3).map(|_| Keypair::new()).collect();
        for k in [&admin, &member].into_iter().chain(&oracles) {
            chain.airdrop(&k.pubkey(), 10 * SOL).await.unwrap();
        }
        let quote_mint = Keypair::new();
        chain
            .create_mint(&quote_mint, &admin.pubkey(), 6)
            .await
            .unwrap();
        // Revenue for the admin to deposit, quote for the member to buy with.
        chain
            .mint_to(&quote_mint.pubkey(), &admin, &admin.pubkey(), 1_000 * USDC)
            .await
            .unwrap();
        chain
            .mint_to(&quote_mint.pubkey(), &admin, &member.pubkey(), 100 * USDC)
            .await
            .unwrap();
        let node = RpcServer::start_local(chain).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let env = Self {
            node,
            dir,
            admin,
            oracles,
            member,
            quote_mint: quote_mint.pubkey(),
        };
        env.write_key("admin", &env.admin);
        env.write_key("member", &env.member);
        env
    }

    fn write_key(&self, name: &str, k: &Keypair) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.json"));
        std::fs::write(
            &path,
            serde_json::to_string(&k.to_bytes().to_vec()).unwrap(),
        )
        .unwrap();
        path
    }

    fn key(&self, name: &str) -> String {
        self.dir
            .path()
            .join(format!("{name}.json"))
            .display()
            .to_string()
    }

    /// Runs the binary as `name` (a keypair file), with `stdin` typed in.
    async fn run(&self, name: &str, args: &[&str], stdin: &str) -> Out {
        let key = self.key(name);
        let mut all = args.to_vec();
        all.extend(["-u", &self.node.url, "-k", &key]);
        self.run_raw(&all, stdin).await
    }

    /// Runs the binary with exactly `args` (HOME is the test's directory).
    async fn run_raw(&self, args: &[&str], stdin: &str) -> Out {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stk-indexer"));
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env_remove("STK_CONFIG")
            .env_remove("STK_RPC_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    async fn ok(&self, name: &str, args: &[&str]) -> String {
        let out = self.run(name, args, "").await;
        assert!(out.ok, "{args:?} failed:\n{}\n{}", out.stdout, out.stderr);
        out.stdout
    }

    async fn fails(&self, name: &str, args: &[&str], expect: &str) -> Out {
        let out = self.run(name, args, "").await;
        assert!(!out.ok, "{args:?} should fail:\n{}", out.stdout);
        assert!(
            out.stderr.contains(expect),
            "{args:?}: expected {expect:?} in:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        out
    }

    async fn status(&self) -> Value {
        serde_json::from_str(&self.ok("admin", &["admin", "status", "--json"]).await).unwrap()
    }

    async fn token(&self, account: &Pubkey) -> u64 {
        self.node
            .with_chain(async |c| c.token_balance(account).await)
            .await
    }

    /// Puts STK into circulation the only way the program allows: the next epoch pays `amount` to each
    /// of `wallets`; the clock moves to the epoch's end, the current oracles attest up to the threshold
    /// and the single chunk is distributed.
    async fn distribute(&self, wallets: &[Pubkey], amount: u64) {
        self.node
            .with_chain(async |c| {
                let config: stk::state::Config = c.anchor(&client::config_address()).await.unwrap();
                let mut allocations = Vec::new();
                for w in wallets {
                    let token_account = c.ata(w, &client::mint_address()).await.unwrap();
                    allocations.push(Allocation {
                        token_account,
                        amount,
                    });
                }
                let tree =
                    EpochTree::build(config.next_epoch, allocations, MAX_CHUNK_RECIPIENTS).unwrap();
                let end = config.epoch_end(tree.epoch).unwrap();
                if c.now().await < end {
                    c.set_time(end).await;
                }
                let args = client::attest_args(&tree, [7; 32], [9; 32]);
                let current = &config.oracles[..config.oracle_count as usize];
                for o in self
                    .oracles
                    .iter()
                    .filter(|o| current.contains(&o.pubkey()))
                    .take(config.threshold as usize)
                {
                    let ix = client::attest_epoch(o.pubkey(), args.clone());
                    c.send(&[ix], &[o]).await.unwrap();
                }
                let chunk = &tree.chunks[0];
                let args = DistributeArgs {
                    epoch: tree.epoch,
                    root: tree.root(),
                    chunk_index: chunk.index,
                    amounts: chunk.recipients.iter().map(|r| r.amount).collect(),
                    proof: tree.proof(0),
                };
                let recipients: Vec<Pubkey> =
                    chunk.recipients.iter().map(|r| r.token_account).collect();
                c.send(&[client::distribute(args, &recipients)], &[])
                    .await
                    .unwrap();
            })
            .await
    }

    async fn init(&self) {
        let oracles = self
            .oracles
            .iter()
            .map(|o| o.pubkey().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let out = self
            .ok(
                "admin",
                &[
                    "admin",
                    "init",
                    "--quote-mint",
                    &self.quote_mint.to_string(),
                    "--oracles",
                    &oracles,
                    "--threshold",
                    "2",
                ],
            )
            .await;
        assert!(out.contains("confirmed:"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_end_to_end() {
    let env = Env::new().await;
    env.fails("admin", &["admin", "status"], "not initialized")
        .await;
    env.init().await;
    let status = env.status().await;
    let version = status["config_version"].as_u64().unwrap();
    assert_eq!(status["admin"], env.admin.pubkey().to_string());
    assert_eq!(status["threshold"], 2);
    assert_eq!(status["oracles"].as_array().unwrap().len(), 3);
    assert_eq!(status["paused"], "none");
    assert_eq!(status["stk_supply"], 0);
    // Status only reads: no keypair needed (this HOME has no ~/.config/solana/id.json).
    let keyless = env
        .run_raw(&["admin", "status", "--json", "-u", &env.node.url], "")
        .await;
    assert!(keyless.ok, "{}", keyless.stderr);
    // Sending does need one.
    let out = env
        .run_raw(&["admin", "pause", "all", "-u", &env.node.url], "")
        .await;
    assert!(!out.ok && out.stderr.contains("id.json"), "{}", out.stderr);
    let pretty = env.ok("admin", &["admin", "status"]).await;
    assert!(pretty.contains("window           closed"), "{pretty}");

    // Wrong signer: the program's error by name.
    let o0 = env.oracles[0].pubkey().to_string();
    env.fails(
        "member",
        &["admin", "set-oracles", "--oracles", &o0, "--threshold", "1"],
        "StkError::Unauthorized",
    )
    .await;
    env.ok(
        "admin",
        &["admin", "set-oracles", "--oracles", &o0, "--threshold", "1"],
    )
    .await;
    let status = env.status().await;
    assert_eq!(status["threshold"], 1);
    assert_eq!(
        status["config_version"],
        version + 1,
        "a new oracle set bumps the version"
    );

    // Limits: omitted ones keep their value. The premium is at least 3x the floor.
    env.fails(
        "admin",
        &["admin", "update-limits", "--premium-bps", "20000"],
        "StkError::PremiumBelowMinMultiple",
    )
    .await;
    env.ok(
        "admin",
        &["admin", "update-limits", "--premium-bps", "40000"],
    )
    .await;
    let status = env.status().await;
    assert_eq!(status["premium_bps"], 40_000);
    assert_eq!(status["max_supply"], 100_000_000 * STK);

    // Pause and unpause.
    env.ok("admin", &["admin", "pause", "buyback"]).await;
    assert_eq!(env.status().await["paused"], "buyback");
    env.ok("admin", &["admin", "pause", "all"]).await;
    assert_eq!(env.status().await["paused_mask"], 15);
    env.ok("admin", &["admin", "unpause", "all"]).await;
    assert_eq!(env.status().await["paused"], "none");

    // Revenue into the vault: asks first; "n" sends nothing, --yes sends.
    let admin_quote = get_associated_token_address(&env.admin.pubkey(), &env.quote_mint);
    let sends = env.node.sends().await.len();
    let out = env
        .run("admin", &["admin", "deposit-revenue", "500"], "n\n")
        .await;
    assert!(!out.ok && out.stderr.contains("aborted"), "{}", out.stderr);
    assert_eq!(env.node.sends().await.len(), sends, "nothing sent");
    let out = env
        .run("admin", &["admin", "deposit-revenue", "500"], "y\n")
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(env.token(&admin_quote).await, 500 * USDC);
    env.fails(
        "admin",
        &["admin", "deposit-revenue", "600", "--yes"],
        "insufficient funds",
    )
    .await;
    assert_eq!(env.status().await["vault"]["balance"], 500 * USDC);
    // 1,000 STK in circulation (epoch 0 paid to a holder, within what its revenue allows), so that the
    // vault backs a floor.
    env.distribute(&[Keypair::new().pubkey()], 1_000 * STK)
        .await;

    // The treasury fills from premium sales: the floor is 500 quote behind 1,000 STK, 0.5; the member
    // buys 10 STK at 4x, 2 quote each: 20 quote, a quarter (5, the backing of 10 STK) to the vault.
    env.ok("member", &["buy-premium", "10", "--yes"]).await;
    let status = env.status().await;
    assert_eq!(status["treasury"]["balance"], 15 * USDC);
    assert_eq!(status["vault"]["balance"], 505 * USDC);
    env.ok("admin", &["admin", "fund-vault", "2", "--yes"])
        .await;
    let status = env.status().await;
    assert_eq!(status["treasury"]["balance"], 13 * USDC);
    assert_eq!(status["vault"]["balance"], 507 * USDC);
    env.ok("admin", &["admin", "withdraw-treasury", "1", "--yes"])
        .await;
    assert_eq!(env.status().await["treasury"]["balance"], 12 * USDC);
    assert_eq!(env.token(&admin_quote).await, 501 * USDC);
    env.fails(
        "admin",
        &["admin", "withdraw-treasury", "13", "--yes"],
        "StkError::InsufficientTreasury",
    )
    .await;

    // Investor allowlist.
    let member = env.member.pubkey().to_string();
    env.ok("admin", &["admin", "set-investor", &member]).await;
    assert!(env
        .node
        .with_chain(async |c| c
            .account(&client::investor_address(&env.member.pubkey()))
            .await)
        .await
        .is_some());

    // Admin transfer: propose, a wrong key cannot accept, the proposed one can.
    let new_admin = Keypair::new();
    env.write_key("new-admin", &new_admin);
    env.node
        .with_chain(async |c| c.airdrop(&new_admin.pubkey(), SOL).await.unwrap())
        .await;
    env.ok(
        "admin",
        &["admin", "propose-admin", &new_admin.pubkey().to_string()],
    )
    .await;
    assert_eq!(
        env.status().await["pending_admin"],
        new_admin.pubkey().to_string()
    );
    env.fails(
        "member",
        &["admin", "accept-admin"],
        "StkError::NotPendingAdmin",
    )
    .await;
    env.ok("new-admin", &["admin", "accept-admin"]).await;
    assert_eq!(env.status().await["admin"], new_admin.pubkey().to_string());
    env.fails(
        "admin",
        &["admin", "pause", "all"],
        "StkError::Unauthorized",
    )
    .await;

    // Priority fee: the compute-unit price x limit is paid on top of the signature fee.
    let out = env
        .ok(
            "new-admin",
            &[
                "admin",
                "pause",
                "emission",
                "--with-compute-unit-price",
                "1000",
                "--compute-unit-limit",
                "50000",
            ],
        )
        .await;
    let signature: solana_sdk::signature::Signature = out
        .lines()
        .find_map(|l| l.strip_prefix("confirmed: "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the signature is printed")
        .parse()
        .unwrap();
    let sent = env.node.transaction(&signature).await.unwrap();
    assert_eq!(
        sent.fee,
        5_000 + 50,
        "1,000 micro-lamports x 50,000 CU = 50 lamports"
    );
    env.ok("new-admin", &["admin", "unpause", "emission"]).await;
    env.fails(
        "new-admin",
        &["admin", "status", "--commitment", "max"],
        "use processed, confirmed or finalized",
    )
    .await;

    // --sign-only for a multisig: the unsigned v0 transaction; signed elsewhere, it works.
    let sends = env.node.sends().await.len();
    let out = env
        .ok(
            "admin",
            &[
                "admin",
                "pause",
                "sale",
                "--sign-only",
                "--authority",
                &new_admin.pubkey().to_string(),
            ],
        )
        .await;
    assert_eq!(env.node.sends().await.len(), sends, "nothing sent");
    let b64 = out
        .lines()
        .find_map(|l| l.strip_prefix("transaction (base64): "))
        .expect("base64 line");
    let b58 = out
        .lines()
        .find_map(|l| l.strip_prefix("transaction (base58): "))
        .expect("base58 line");
    let bytes = BASE64_STANDARD.decode(b64).unwrap();
    assert_eq!(bs58::decode(b58).into_vec().unwrap(), bytes);
    let mut tx: VersionedTransaction = bincode::deserialize(&bytes).unwrap();
    assert!(matches!(
        tx.message,
        solana_sdk::message::VersionedMessage::V0(_)
    ));
    assert_eq!(tx.message.static_account_keys()[0], new_admin.pubkey());
    tx.signatures[0] = new_admin.sign_message(&tx.message.serialize());
    let rpc = RpcClient::new_with_commitment(env.node.url.clone(), CommitmentConfig::confirmed());
    rpc.send_and_confirm_transaction(&tx).await.unwrap();
    assert_eq!(env.status().await["paused"], "sale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_and_investor_commands_end_to_end() {
    let env = Env::new().await;
    env.init().await;
    let member_stk = client::stk_ata(&env.member.pubkey());
    let member_quote = get_associated_token_address(&env.member.pubkey(), &env.quote_mint);

    // Nothing in circulation: no floor, no premium price; refused before sending.
    env.fails("member", &["buy-premium", "10", "--yes"], "no floor yet")
        .await;
    // 200 quote of revenue in epoch 0, then the epoch pays 400 STK (within what the revenue allows:
    // 200 x 50% at the genesis price 0.01 = 10,000 STK).
    env.ok("admin", &["admin", "deposit-revenue", "200", "--yes"])
        .await;
    env.distribute(&[Keypair::new().pubkey()], 400 * STK).await;

    // The floor is 200 quote behind 400 STK, 0.5. Buy 40 STK at 10x0.5 = 5 quote per STK: 200 quote;
    // the member holds 100.
    env.fails(
        "member",
        &["buy-premium", "40", "--yes"],
        "insufficient funds",
    )
    .await;
    let out = env
        .ok("member", &["buy-premium", "12", "--slippage", "1", "--yes"])
        .await;
    assert!(out.contains("floor 0.5 quote per STK"), "{out}");
    assert!(
        out.contains("premium price 5 quote per STK (100000 bps of the floor)"),
        "{out}"
    );
    // 10% to the vault (6, also the backing of 12 STK), 54 to the treasury.
    assert!(
        out.contains("buy 12 STK for 60 quote: 6 to the vault (1000 bps share"),
        "{out}"
    );
    assert!(out.contains("54 to the treasury"), "{out}");
    assert!(out.contains("at most 60.6"), "{out}");
    assert_eq!(env.token(&member_stk).await, 12 * STK);
    assert_eq!(env.token(&member_quote).await, 40 * USDC);
    let status = env.status().await;
    assert_eq!(status["vault"]["balance"], 206 * USDC);
    assert_eq!(status["treasury"]["balance"], 54 * USDC);

    // balance
    let b: Value = serde_json::from_str(&env.ok("member", &["balance", "--json"]).await).unwrap();
    assert_eq!(b["stk"]["amount"], 12 * STK);
    assert_eq!(b["quote"]["amount"], 40 * USDC);
    let pretty = env
        .ok("admin", &["balance", &env.member.pubkey().to_string()])
        .await;
    assert!(pretty.contains("STK     12 "), "{pretty}");

    // The Solana CLI's default keypair (~/.config/solana/id.json) and the URL from the environment.
    let solana_dir = env.dir.path().join(".config/solana");
    std::fs::create_dir_all(&solana_dir).unwrap();
    std::fs::copy(env.key("member"), solana_dir.join("id.json")).unwrap();
    let out = env
        .run_raw(&["balance", "--json", "-u", &env.node.url], "")
        .await;
    assert!(out.ok, "{}", out.stderr);
    let b: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(b["wallet"], env.member.pubkey().to_string());

    // Dry run: simulated, compute units shown, nothing moves. The floor is still 0.5 (206 quote behind
    // 412 STK): 2 STK at 5 quote cost 10, 1 to the vault (its 10% share and the backing of 2 STK), 9
    // to the treasury.
    let out = env.ok("member", &["buy-premium", "2", "--dry-run"]).await;
    assert!(
        out.contains("compute units:") && out.contains("simulation: ok"),
        "{out}"
    );
    assert!(out.contains("fee: 5000 lamports"), "{out}");
    // Balance changes read from the simulated instructions.
    assert!(
        out.contains(&format!("token {member_quote}: -10000000 (base units)")),
        "{out}"
    );
    let vault = client::vault_address();
    assert!(
        out.contains(&format!("token {vault}: +1000000 (base units)")),
        "{out}"
    );
    let treasury = client::treasury_address();
    assert!(
        out.contains(&format!("token {treasury}: +9000000 (base units)")),
        "{out}"
    );
    assert_eq!(env.token(&member_stk).await, 12 * STK);
    assert_eq!(env.token(&member_quote).await, 40 * USDC);
    // A dry run shows the program's error too, and sends nothing; so does a paused flow.
    env.ok("admin", &["admin", "pause", "sale"]).await;
    env.fails(
        "member",
        &["buy-premium", "2", "--dry-run"],
        "StkError::Paused",
    )
    .await;
    env.fails("member", &["buy-premium", "2", "--yes"], "StkError::Paused")
        .await;
    env.ok("admin", &["admin", "unpause", "sale"]).await;
    assert_eq!(env.token(&member_quote).await, 40 * USDC);

    // Access plans: only the admin sets them, within the bounds.
    let plan_args = |id: &'static str, discount: &'static str| {
        [
            "admin",
            "set-plan",
            "--id",
            id,
            "--period-days",
            "90",
            "--fiat-price",
            "2",
            "--discount-bps",
            discount,
        ]
    };
    env.fails("member", &plan_args("2", "2000"), "StkError::Unauthorized")
        .await;
    let out = env
        .fails("admin", &plan_args("2", "6000"), "StkError::InvalidPlan")
        .await;
    assert!(
        out.stdout.contains("the program will refuse"),
        "{}",
        out.stdout
    );
    let out = env.ok("admin", &plan_args("2", "2000")).await;
    assert!(
        out.contains("plan 2 (new): 90 days, fiat price 2 quote, 20% off in STK, active"),
        "{out}"
    );
    let mut inactive = plan_args("3", "0").to_vec();
    inactive.push("--inactive");
    env.ok("admin", &inactive).await;
    let plans: Value =
        serde_json::from_str(&env.ok("member", &["admin", "plans", "--json"]).await).unwrap();
    assert_eq!(plans["plans"].as_array().unwrap().len(), 2);
    assert_eq!(plans["plans"][0]["id"], 2);
    assert_eq!(plans["plans"][0]["period_secs"], 90 * 86_400);
    assert_eq!(plans["plans"][0]["fiat_price"], 2 * USDC);
    assert_eq!(plans["plans"][1]["active"], false);

    // Pay for plan 2: 10 quote less 20% at the floor (vault / supply), shown first, burned.
    let status = env.status().await;
    let supply_before = status["stk_supply"].as_u64().unwrap();
    let vault = status["vault"]["balance"].as_u64().unwrap();
    let floor = (u128::from(vault) * u128::from(STK) / u128::from(supply_before)) as u64;
    assert_eq!(plans["floor_price"], floor);
    let price = stk::economy::access_price_stk(2 * USDC, 2_000, floor).unwrap();
    assert_eq!(plans["plans"][0]["price"], price);
    let shown = format!(
        "price {} STK at the floor {} quote per STK",
        stk_indexer::member_tx::fmt_amount(price, 6),
        stk_indexer::member_tx::fmt_amount(floor, 6)
    );
    let out = env
        .run(
            "member",
            &["pay-access", "--plan", "2", "--reference", "order-17"],
            "no\n",
        )
        .await;
    assert!(!out.ok);
    assert!(
        out.stdout.contains(&shown),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout
            .contains("plan 2: 90 days of access, fiat price 2 quote, 20% off in STK"),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.token(&member_stk).await,
        12 * STK,
        "declined: nothing paid"
    );
    let out = env
        .ok(
            "member",
            &[
                "pay-access",
                "--plan",
                "2",
                "--reference",
                "order-17",
                "--slippage",
                "0.5",
                "--yes",
            ],
        )
        .await;
    assert!(out.contains(&shown), "{out}");
    assert_eq!(env.token(&member_stk).await, 12 * STK - price);
    assert_eq!(
        env.status().await["stk_supply"].as_u64().unwrap(),
        supply_before - price
    );
    let held = 12 * STK - price;
    env.fails(
        "member",
        &["pay-access", "--plan", "3", "--reference", "x", "--yes"],
        "plan 3 is not active",
    )
    .await;
    env.fails(
        "member",
        &["pay-access", "--plan", "9", "--reference", "x", "--yes"],
        "no plan 9",
    )
    .await;
    env.ok("admin", &["admin", "pause", "access"]).await;
    // The program refuses by name, with its message.
    let out = env
        .fails(
            "member",
            &[
                "pay-access",
                "--plan",
                "2",
                "--reference",
                "order-18",
                "--yes",
            ],
            "StkError::Paused",
        )
        .await;
    assert!(
        out.stderr.contains("Function is paused"),
        "the message too: {}",
        out.stderr
    );
    assert_eq!(env.token(&member_stk).await, held);
}

/// Pro-rata tender windows from the command line: the admin announces by rule (a price above the rule
/// is refused by the program), a member places an order, anyone settles, the member claims once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tender_window_commands_end_to_end() {
    use stk::state::{Config, Order, TenderWindow};
    let env = Env::new().await;
    env.init().await;
    // The member earns 12 STK in the first epoch (its revenue, 0.24 quote, allows exactly that at the
    // genesis price 0.01 and 50%; the clock moves to its end), then 199.76 quote of revenue comes in:
    // 200 in the vault.
    let member = env.member.pubkey();
    env.ok("admin", &["admin", "deposit-revenue", "0.24", "--yes"])
        .await;
    env.distribute(&[member], 12 * STK).await;
    env.ok("admin", &["admin", "deposit-revenue", "199.76", "--yes"])
        .await;
    let member_stk = client::stk_ata(&member);
    let member_quote = get_associated_token_address(&member, &env.quote_mint);
    assert_eq!(env.token(&member_stk).await, 12 * STK);
    assert_eq!(env.token(&member_quote).await, 100 * USDC);

    // The last period brought 0.24 quote: the rule capacity is 0.24 and the program refuses more.
    env.fails(
        "admin",
        &["admin", "announce-window", "--capacity", "0.25"],
        "StkError::WindowCapacityAboveRule",
    )
    .await;
    env.fails("member", &["place-order", "1", "--yes"], "no tender window")
        .await;

    // Next period: the 199.76 deposited are the last period's inflow; capacity min(199.76, 25% x 200) = 50.
    let config: Config = env
        .node
        .with_chain(async |c| c.anchor(&client::config_address()).await)
        .await
        .unwrap();
    let next = config.genesis_ts + (config.period_index as i64 + 1) * config.epoch_duration;
    env.node.with_chain(async |c| c.set_time(next).await).await;
    // Floor 200 / 12 = 16.666666 quote per STK; the rule price is 2% less, rounded down: 16.333332.
    env.fails(
        "admin",
        &["admin", "announce-window", "--price", "17"],
        "StkError::WindowPriceAboveRule",
    )
    .await;
    let out = env
        .ok(
            "admin",
            &[
                "admin",
                "announce-window",
                "--opens-in",
                "60",
                "--duration-secs",
                "3600",
            ],
        )
        .await;
    assert!(out.contains("price at most 16.333332"), "{out}");
    assert!(out.contains("capacity at most 50 "), "{out}");
    let w: TenderWindow = env
        .node
        .with_chain(async |c| c.anchor(&client::window_address(1)).await)
        .await
        .unwrap();
    assert_eq!((w.price, w.capacity), (16_333_332, 50 * USDC));

    // Not open yet: refused before sending.
    env.fails(
        "member",
        &["place-order", "10", "--yes"],
        "takes orders from",
    )
    .await;
    env.node
        .with_chain(async |c| c.set_time(w.opens_at).await)
        .await;
    env.ok("member", &["place-order", "10", "--yes"]).await;
    assert_eq!(env.token(&member_stk).await, 2 * STK);
    env.fails("member", &["claim-order", "--yes"], "not settled yet")
        .await;
    env.node
        .with_chain(async |c| c.set_time(w.closes_at).await)
        .await;
    let out = env.ok("member", &["settle-window", "--yes"]).await;
    assert!(out.contains("10 STK requested"), "{out}");
    let order: Order = env
        .node
        .with_chain(async |c| c.anchor(&client::order_address(1, &member)).await)
        .await
        .unwrap();
    assert_eq!(order.amount, 10 * STK);
    let out = env.ok("member", &["claim-order", "--yes"]).await;
    // 50 quote buys 3.061224 STK at 16.333332: filled 3.061224, paid 49.999987; 6.938776 STK back.
    assert!(out.contains("3.061224 STK filled"), "{out}");
    assert_eq!(env.token(&member_stk).await, 2 * STK + 6_938_776);
    assert_eq!(env.token(&member_quote).await, 100 * USDC + 49_999_987);
    env.fails("member", &["claim-order", "--yes"], "already claimed")
        .await;
    // A settled window can no longer be cancelled; only the admin may try.
    env.fails(
        "member",
        &["admin", "cancel-window", "1"],
        "StkError::Unauthorized",
    )
    .await;
    env.fails(
        "admin",
        &["admin", "cancel-window", "1"],
        "StkError::WindowNotOpen",
    )
    .await;
}
