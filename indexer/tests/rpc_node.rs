//! The JSON-RPC endpoint (`stk_indexer::chain::rpc_server`, what `serve --local --rpc-listen` runs)
//! over real HTTP on 127.0.0.1: the official `solana-rpc-client` against every method, the wire-level
//! error codes and limits with raw HTTP, and the epoch pipeline run through `RpcChain` against it.

use std::{sync::Arc, time::Duration};

use anchor_spl::token::spl_token;
use serde_json::{json, Value};
use solana_account_decoder::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::{
    client_error::ErrorKind,
    config::{
        RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcSendTransactionConfig,
        RpcSimulateTransactionConfig, RpcTransactionConfig,
    },
    filter::{Memcmp, RpcFilterType},
    request::{RpcError, TokenAccountsFilter},
};
use solana_sdk::{
    message::{v0, VersionedMessage},
    pubkey::Pubkey,
    signature::Keypair,
    signer::Signer,
    transaction::VersionedTransaction,
};
use solana_transaction_status_client_types::UiTransactionEncoding;
use stk::client;
use stk_indexer::{
    chain::{
        rpc::{RpcChain, RpcOptions},
        rpc_server::{RpcServer, MAX_BATCH, MAX_REQUEST_BODY},
    },
    pipeline::{Pipeline, State},
};
use stk_localnet::LocalChain;

mod common;

use common::world::{world, WorldOptions};

const SOL: u64 = 1_000_000_000;

fn fast() -> RpcOptions {
    RpcOptions {
        max_retries: 2,
        retry_min_delay: Duration::from_millis(5),
        confirm_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(5),
        resend_interval: Duration::from_millis(20),
        request_timeout: Duration::from_secs(10),
        ..RpcOptions::default()
    }
}

/// A fresh chain with a funded key and a 6-decimal mint, served on 127.0.0.1:0.
struct Node {
    node: RpcServer,
    rpc: RpcClient,
    owner: Keypair,
    mint: Pubkey,
    token_account: Pubkey,
}

async fn node() -> Node {
    let mut chain = LocalChain::start().await;
    let owner = Keypair::new();
    chain.airdrop(&owner.pubkey(), 10 * SOL).await.unwrap();
    let mint = Keypair::new();
    chain.create_mint(&mint, &owner.pubkey(), 6).await.unwrap();
    let token_account = chain
        .mint_to(&mint.pubkey(), &owner, &owner.pubkey(), 2_500_000)
        .await
        .unwrap();
    let node = RpcServer::start_local(chain).await.unwrap();
    // Set up before the endpoint existed: tell its account index about them.
    node.chain()
        .await
        .note_accounts(&[owner.pubkey(), mint.pubkey(), token_account]);
    let rpc = RpcClient::new_with_commitment(node.url.clone(), CommitmentConfig::confirmed());
    Node {
        node,
        rpc,
        owner,
        mint: mint.pubkey(),
        token_account,
    }
}

async fn signed_transfer(n: &Node, to: &Pubkey, lamports: u64) -> VersionedTransaction {
    let blockhash = n.rpc.get_latest_blockhash().await.unwrap();
    let ix =
        anchor_lang::solana_program::system_instruction::transfer(&n.owner.pubkey(), to, lamports);
    let message = v0::Message::try_compile(&n.owner.pubkey(), &[ix], &[], blockhash).unwrap();
    VersionedTransaction::try_new(VersionedMessage::V0(message), &[&n.owner]).unwrap()
}

/// The JSON-RPC error of a failed client call: (code, message, data).
fn rpc_error(e: &solana_rpc_client_api::client_error::Error) -> (i64, String) {
    match e.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError { code, message, .. }) => {
            (*code, message.clone())
        }
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_reads_the_chain() {
    let n = node().await;
    let rpc = &n.rpc;
    rpc.get_health().await.unwrap();
    let version = rpc.get_version().await.unwrap();
    assert_eq!(version.solana_core, "3.1.12");
    // What an agave 3.1.12 node reports: the first four bytes of its feature-set id.
    let id = agave_feature_set::ID.to_bytes();
    assert_eq!(
        version.feature_set,
        Some(u32::from_le_bytes([id[0], id[1], id[2], id[3]]))
    );
    let slot = rpc.get_slot().await.unwrap();
    assert!(
        rpc.get_slot().await.unwrap() > slot,
        "the chain moves as it is watched"
    );
    let height = rpc.get_block_height().await.unwrap();
    let info = rpc.get_epoch_info().await.unwrap();
    assert_eq!(info.block_height, height);
    assert!(info.slot_index < info.slots_in_epoch);
    let (hash, last_valid) = rpc
        .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
        .await
        .unwrap();
    assert_eq!(last_valid, height + 150);
    assert!(rpc
        .is_blockhash_valid(&hash, CommitmentConfig::confirmed())
        .await
        .unwrap());
    assert!(!rpc
        .is_blockhash_valid(
            &solana_sdk::hash::Hash::new_unique(),
            CommitmentConfig::confirmed()
        )
        .await
        .unwrap());
    let rent = rpc
        .get_minimum_balance_for_rent_exemption(165)
        .await
        .unwrap();
    assert_eq!(rent, 2_039_280, "the runtime's rent for a token account");
    assert_eq!(rpc.get_balance(&n.owner.pubkey()).await.unwrap(), 10 * SOL);
    assert_eq!(rpc.get_balance(&Pubkey::new_unique()).await.unwrap(), 0);

    // Accounts in base64 (the client's default) and jsonParsed.
    let account = rpc.get_account(&n.token_account).await.unwrap();
    assert_eq!(account.owner, spl_token::ID);
    // jsonParsed, read raw (the client would turn it back into bytes).
    let raw = raw_call(
        &n.node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"getAccountInfo",
               "params":[n.token_account.to_string(), {"encoding":"jsonParsed"}]}),
    )
    .await;
    let data = &raw["result"]["value"]["data"];
    assert_eq!(data["program"], "spl-token");
    assert_eq!(data["parsed"]["type"], "account");
    let info = &data["parsed"]["info"];
    assert_eq!(info["mint"], n.mint.to_string());
    assert_eq!(info["owner"], n.owner.pubkey().to_string());
    assert_eq!(info["state"], "initialized");
    assert_eq!(info["tokenAmount"]["amount"], "2500000");
    assert_eq!(info["tokenAmount"]["decimals"], 6);
    assert_eq!(info["tokenAmount"]["uiAmountString"], "2.5");
    assert_eq!(raw["result"]["context"]["apiVersion"], "3.1.12");
    // base58 is offered for small accounts only, like on the validator.
    let b58 = raw_call(
        &n.node.url,
        json!({"jsonrpc":"2.0","id":2,"method":"getAccountInfo",
               "params":[n.token_account.to_string(), {"encoding":"base58"}]}),
    )
    .await;
    assert_eq!(b58["error"]["code"], -32602, "{b58}");
    let sliced = raw_call(
        &n.node.url,
        json!({"jsonrpc":"2.0","id":3,"method":"getAccountInfo",
               "params":[n.token_account.to_string(), {"encoding":"base58","dataSlice":{"offset":0,"length":32}}]}),
    )
    .await;
    assert_eq!(
        sliced["result"]["value"]["data"][0],
        bs58::encode(n.mint.to_bytes()).into_string()
    );

    let zstd = raw_call(
        &n.node.url,
        json!({"jsonrpc":"2.0","id":4,"method":"getAccountInfo",
               "params":[n.token_account.to_string(), {"encoding":"base64+zstd"}]}),
    )
    .await;
    assert_eq!(zstd["result"]["value"]["data"][1], "base64+zstd", "{zstd}");
    let later = raw_call(
        &n.node.url,
        json!({"jsonrpc":"2.0","id":5,"method":"getBalance",
               "params":[n.owner.pubkey().to_string(), {"minContextSlot": u64::MAX}]}),
    )
    .await;
    assert_eq!(later["error"]["code"], -32016, "{later}");
    assert!(later["error"]["data"]["contextSlot"].is_u64());

    let many = rpc
        .get_multiple_accounts(&[n.mint, Pubkey::new_unique(), n.token_account])
        .await
        .unwrap();
    assert!(many[0].is_some() && many[1].is_none() && many[2].is_some());

    // Program accounts with filters.
    let all = rpc.get_program_accounts(&spl_token::ID).await.unwrap();
    let keys: Vec<Pubkey> = all.iter().map(|(k, _)| *k).collect();
    assert!(keys.contains(&n.mint) && keys.contains(&n.token_account));
    let token_accounts = rpc
        .get_program_ui_accounts_with_config(
            &spl_token::ID,
            RpcProgramAccountsConfig {
                filters: Some(vec![
                    RpcFilterType::DataSize(165),
                    RpcFilterType::Memcmp(Memcmp::new_base58_encoded(
                        32,
                        &n.owner.pubkey().to_bytes(),
                    )),
                ]),
                account_config: RpcAccountInfoConfig {
                    encoding: Some(UiAccountEncoding::Base64),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        token_accounts.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        vec![n.token_account]
    );
    let initialized_token_accounts = rpc
        .get_program_ui_accounts_with_config(
            &spl_token::ID,
            RpcProgramAccountsConfig {
                filters: Some(vec![RpcFilterType::TokenAccountState]),
                account_config: RpcAccountInfoConfig {
                    encoding: Some(UiAccountEncoding::Base64),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        initialized_token_accounts
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>(),
        vec![n.token_account],
        "token accounts, not the mint"
    );
    let none = rpc
        .get_program_ui_accounts_with_config(
            &spl_token::ID,
            RpcProgramAccountsConfig {
                filters: Some(vec![RpcFilterType::Memcmp(Memcmp::new_base58_encoded(
                    32,
                    &Pubkey::new_unique().to_bytes(),
                ))]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let too_many = rpc
        .get_program_ui_accounts_with_config(
            &spl_token::ID,
            RpcProgramAccountsConfig {
                filters: Some(vec![RpcFilterType::DataSize(165); 5]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        rpc_error(&too_many),
        (-32602, "Too many filters provided; max 4".into())
    );

    // Token methods.
    let owned = rpc
        .get_token_accounts_by_owner(&n.owner.pubkey(), TokenAccountsFilter::Mint(n.mint))
        .await
        .unwrap();
    assert_eq!(owned.len(), 1);
    assert_eq!(owned[0].pubkey, n.token_account.to_string());
    let by_program = rpc
        .get_token_accounts_by_owner(
            &n.owner.pubkey(),
            TokenAccountsFilter::ProgramId(spl_token::ID),
        )
        .await
        .unwrap();
    assert_eq!(by_program.len(), 1);
    let bad_program = rpc
        .get_token_accounts_by_owner(
            &n.owner.pubkey(),
            TokenAccountsFilter::ProgramId(Pubkey::new_unique()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        rpc_error(&bad_program),
        (
            -32602,
            "Invalid param: unrecognized Token program id".into()
        )
    );
    let balance = rpc
        .get_token_account_balance(&n.token_account)
        .await
        .unwrap();
    assert_eq!((balance.amount.as_str(), balance.decimals), ("2500000", 6));
    let supply = rpc.get_token_supply(&n.mint).await.unwrap();
    assert_eq!(supply.amount, "2500000");
    let not_token = rpc
        .get_token_account_balance(&n.owner.pubkey())
        .await
        .unwrap_err();
    assert_eq!(
        rpc_error(&not_token),
        (-32602, "Invalid param: not a Token account".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_sends_simulates_and_reads_history() {
    let n = node().await;
    let rpc = &n.rpc;
    // Airdrop, confirmed like `solana airdrop` does.
    let fresh = Keypair::new();
    let airdrop = rpc.request_airdrop(&fresh.pubkey(), 2 * SOL).await.unwrap();
    loop {
        if rpc.confirm_transaction(&airdrop).await.unwrap() {
            break;
        }
    }
    assert_eq!(rpc.get_balance(&fresh.pubkey()).await.unwrap(), 2 * SOL);
    // The same request again is a new airdrop, not a replay.
    let again = rpc.request_airdrop(&fresh.pubkey(), 2 * SOL).await.unwrap();
    assert_ne!(again, airdrop);
    assert_eq!(rpc.get_balance(&fresh.pubkey()).await.unwrap(), 4 * SOL);
    // Over the faucet's cap (the client reports any airdrop error in its own words: read it raw).
    assert!(rpc
        .request_airdrop(&fresh.pubkey(), 1_001 * SOL)
        .await
        .is_err());
    let over_cap = raw_call(
        &n.node.url,
        json!({"jsonrpc":"2.0","id":1,"method":"requestAirdrop",
               "params":[fresh.pubkey().to_string(), 1_001 * SOL]}),
    )
    .await;
    assert_eq!(over_cap["error"]["code"], -32602, "{over_cap}");
    assert_eq!(rpc.get_balance(&fresh.pubkey()).await.unwrap(), 4 * SOL);

    // Fee and simulation before sending.
    let to = Pubkey::new_unique();
    let tx = signed_transfer(&n, &to, SOL).await;
    let VersionedMessage::V0(message) = &tx.message else {
        unreachable!("a v0 transaction")
    };
    let fee = rpc.get_fee_for_message(message).await.unwrap();
    assert_eq!(fee, 5_000);
    let sim = rpc.simulate_transaction(&tx).await.unwrap().value;
    assert!(sim.err.is_none(), "{sim:?}");
    assert_eq!(sim.units_consumed, Some(150), "one system transfer");
    assert_eq!(sim.fee, Some(5_000));
    assert_eq!(
        rpc.get_balance(&to).await.unwrap(),
        0,
        "a simulation moves nothing"
    );
    // Unsigned, with the blockhash replaced (what `--dry-run` of a `--sign-only` transaction does).
    let mut unsigned = tx.clone();
    unsigned.signatures[0] = solana_sdk::signature::Signature::default();
    let sim = rpc
        .simulate_transaction_with_config(
            &unsigned,
            RpcSimulateTransactionConfig {
                replace_recent_blockhash: true,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .value;
    assert!(sim.err.is_none() && sim.replacement_blockhash.is_some());
    let sig_verify = rpc
        .simulate_transaction_with_config(
            &unsigned,
            RpcSimulateTransactionConfig {
                sig_verify: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(rpc_error(&sig_verify).0, -32003);

    // Send and confirm, then the history.
    let signature = rpc.send_and_confirm_transaction(&tx).await.unwrap();
    assert_eq!(rpc.get_balance(&to).await.unwrap(), SOL);
    let statuses = rpc
        .get_signature_statuses(&[signature])
        .await
        .unwrap()
        .value;
    assert!(statuses[0].as_ref().unwrap().err.is_none());
    // The same transaction again is a replay.
    let again = rpc.send_transaction(&tx).await.unwrap_err();
    assert_eq!(rpc_error(&again).0, -32002);
    let got = rpc
        .get_transaction_with_config(
            &signature,
            RpcTransactionConfig {
                encoding: Some(UiTransactionEncoding::Base64),
                commitment: Some(CommitmentConfig::confirmed()),
                max_supported_transaction_version: Some(0),
            },
        )
        .await
        .unwrap();
    let meta = got.transaction.meta.unwrap();
    assert_eq!(meta.fee, 5_000);
    assert_eq!(meta.pre_balances[0] - meta.post_balances[0], SOL + 5_000);
    let decoded = got.transaction.transaction.decode().unwrap();
    assert_eq!(decoded.signatures[0], signature);
    let json_encoded = rpc
        .get_transaction_with_config(
            &signature,
            RpcTransactionConfig {
                encoding: Some(UiTransactionEncoding::Json),
                commitment: Some(CommitmentConfig::confirmed()),
                max_supported_transaction_version: Some(0),
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        json_encoded.transaction.transaction,
        solana_transaction_status_client_types::EncodedTransaction::Json(_)
    ));
    let no_version = rpc
        .get_transaction_with_config(
            &signature,
            RpcTransactionConfig {
                encoding: Some(UiTransactionEncoding::Base64),
                commitment: Some(CommitmentConfig::confirmed()),
                max_supported_transaction_version: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(rpc_error(&no_version).0, -32015);
    let history = rpc.get_signatures_for_address(&to).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].signature, signature.to_string());

    // A failing transaction: preflight refuses it with -32002 and the simulation in `data`.
    let broke = Keypair::new();
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let ix = anchor_lang::solana_program::system_instruction::transfer(
        &n.owner.pubkey(),
        &to,
        100 * SOL,
    );
    let message = v0::Message::try_compile(&n.owner.pubkey(), &[ix], &[], blockhash).unwrap();
    let tx = VersionedTransaction::try_new(VersionedMessage::V0(message), &[&n.owner]).unwrap();
    let err = rpc.send_transaction(&tx).await.unwrap_err();
    match err.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError {
            code,
            message,
            data,
        }) => {
            assert_eq!(*code, -32002);
            assert!(
                message.starts_with("Transaction simulation failed"),
                "{message}"
            );
            match data {
                solana_rpc_client_api::request::RpcResponseErrorData::SendTransactionPreflightFailure(r) => {
                    assert!(r.err.is_some());
                    assert!(r.logs.as_ref().is_some_and(|l| !l.is_empty()));
                }
                other => panic!("preflight data expected, got {other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    // With skipPreflight it runs and fails on chain; its status says so.
    let signature = rpc
        .send_transaction_with_config(
            &tx,
            RpcSendTransactionConfig {
                skip_preflight: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let status = rpc
        .get_signature_statuses(&[signature])
        .await
        .unwrap()
        .value;
    assert!(status[0].as_ref().unwrap().err.is_some());
    drop(broke);
    // A forged signature.
    let mut forged = signed_transfer(&n, &to, 1).await;
    forged.signatures[0] = Keypair::new().sign_message(&forged.message.serialize());
    let err = rpc.send_transaction(&forged).await.unwrap_err();
    assert_eq!(
        rpc_error(&err),
        (-32003, "Transaction signature verification failure".into())
    );
}

async fn raw_call(url: &str, body: Value) -> Value {
    raw_bytes(url, body.to_string().into_bytes()).await.1
}

async fn raw_bytes(url: &str, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_errors_batches_and_limits_have_the_validators_shapes() {
    let n = node().await;
    let url = &n.node.url;
    let (status, parse) = raw_bytes(url, b"{\"jsonrpc\":\"2.0\",".to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(
        parse,
        json!({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null})
    );
    let invalid = raw_call(url, json!({"id": 1, "method": "getSlot"})).await;
    assert_eq!(
        invalid["error"],
        json!({"code":-32600,"message":"Invalid request"})
    );
    assert_eq!(invalid["id"], 1);
    let missing = raw_call(url, json!({"jsonrpc":"2.0","id":"x","method":"getBlock"})).await;
    assert_eq!(
        missing,
        json!({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"x"})
    );
    let bad_key = raw_call(
        url,
        json!({"jsonrpc":"2.0","id":2,"method":"getBalance","params":["not-a-key"]}),
    )
    .await;
    assert_eq!(bad_key["error"]["code"], -32602);
    assert_eq!(bad_key["error"]["message"], "Invalid param: Invalid");
    let wrong_type = raw_call(
        url,
        json!({"jsonrpc":"2.0","id":3,"method":"getBalance","params":[7]}),
    )
    .await;
    assert_eq!(wrong_type["error"]["code"], -32602);
    assert!(wrong_type["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid params: "));
    let huge = raw_call(
        url,
        json!({"jsonrpc":"2.0","id":3,"method":"getMinimumBalanceForRentExemption","params":[u64::MAX]}),
    )
    .await;
    assert_eq!(huge["error"]["code"], -32602, "{huge}");
    let too_many = raw_call(
        url,
        json!({"jsonrpc":"2.0","id":4,"method":"getMultipleAccounts",
               "params":[vec![Pubkey::new_unique().to_string(); 101]]}),
    )
    .await;
    assert_eq!(
        too_many["error"],
        json!({"code":-32602,"message":"Too many inputs provided; max 100"})
    );
    let bad_tx = raw_call(
        url,
        json!({"jsonrpc":"2.0","id":5,"method":"sendTransaction","params":["A".repeat(2_000)]}),
    )
    .await;
    assert_eq!(bad_tx["error"]["code"], -32602);
    assert!(bad_tx["error"]["message"]
        .as_str()
        .unwrap()
        .contains("too large: 2000 bytes (max: encoded/raw 1683/1232)"));

    // A batch answers each call, in order, errors included; notifications get no answer.
    let batch = raw_call(
        url,
        json!([
            {"jsonrpc":"2.0","id":1,"method":"getHealth"},
            {"jsonrpc":"2.0","id":2,"method":"nope"},
            {"jsonrpc":"2.0","method":"getHealth"},
            {"jsonrpc":"2.0","id":3,"method":"getBalance","params":[n.owner.pubkey().to_string()]},
            7
        ]),
    )
    .await;
    let answers = batch.as_array().unwrap();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0]["result"], "ok");
    assert_eq!(answers[1]["error"]["code"], -32601);
    assert_eq!(answers[2]["result"]["value"], 10 * SOL);
    assert_eq!(answers[3]["error"]["code"], -32600);
    let empty = raw_call(url, json!([])).await;
    assert_eq!(empty["error"]["code"], -32600);
    let calls: Vec<Value> = (0..=MAX_BATCH)
        .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"getHealth"}))
        .collect();
    let big = raw_call(url, Value::Array(calls)).await;
    assert_eq!(big["error"]["code"], -32600, "{big}");
    // The body is bounded before it is parsed.
    let before = n.node.requests();
    let (status, _) = raw_bytes(url, vec![b' '; MAX_REQUEST_BODY + 1]).await;
    assert_eq!(status, 413);
    assert_eq!(n.node.requests(), before, "refused before the handler");
    // GET /health, like a validator.
    let health = reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}

/// The epoch pipeline (scoring, token accounts, lookup tables, attestation, distribution) through
/// `RpcChain` over HTTP against the endpoint on the local economy's bank: every transaction travels
/// as bytes through `sendTransaction`, every read through JSON-RPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_an_epoch_to_done_over_json_rpc() {
    let w = world(WorldOptions::new(40)).await;
    let node = RpcServer::start(w.economy.chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let rpc: Arc<dyn stk_indexer::chain::Chain> = Arc::new(RpcChain::new(
        &node.url,
        CommitmentConfig::confirmed(),
        fast(),
    ));
    let pipeline = Pipeline {
        chain: rpc.clone(),
        ..w.pipeline.clone()
    };
    let mut state = State::Open;
    for _ in 0..4 {
        state = pipeline.run(0).await.unwrap().0;
        match state {
            State::Done => break,
            State::Attested => {
                // The second oracle attests in-process (not through the endpoint): the endpoint's
                // history shows it all the same, like a node shows every transaction of its bank.
                let plan = w.store.epoch_plan(0).await.unwrap().unwrap();
                stk_indexer::pipeline::attest(&w.economy.chain, &w.economy.oracles[1], &plan)
                    .await
                    .unwrap();
                let client =
                    RpcClient::new_with_commitment(node.url.clone(), CommitmentConfig::confirmed());
                let history = client
                    .get_signatures_for_address(&w.economy.oracles[1].pubkey())
                    .await
                    .unwrap();
                assert_eq!(
                    history.len(),
                    1,
                    "the in-process attestation is in the history"
                );
                let signature = history[0].signature.parse().unwrap();
                let tx = client
                    .get_transaction_with_config(
                        &signature,
                        RpcTransactionConfig {
                            encoding: Some(UiTransactionEncoding::Base64),
                            commitment: Some(CommitmentConfig::confirmed()),
                            max_supported_transaction_version: Some(0),
                        },
                    )
                    .await
                    .unwrap();
                assert!(tx.transaction.meta.unwrap().err.is_none());
            }
            other => panic!("run stopped at {other}"),
        }
    }
    assert_eq!(state, State::Done);
    assert!(
        node.executed().await >= 4,
        "the pipeline's transactions went through the endpoint"
    );
    // Every recipient holds exactly its allocation; the events came back through JSON-RPC history.
    let recipients = w.store.epoch_recipients(0).await.unwrap();
    let accounts: Vec<Pubkey> = recipients
        .iter()
        .map(|r| r.token_account.parse().unwrap())
        .collect();
    let balances = stk_indexer::chain::ops::token_balances(rpc.as_ref(), &accounts)
        .await
        .unwrap();
    for (r, b) in recipients.iter().zip(balances) {
        assert_eq!(b, r.amount, "{}", r.member_id);
    }
    let total: u64 = recipients.iter().map(|r| r.amount).sum();
    assert_eq!(
        stk_indexer::chain::ops::mint_supply(rpc.as_ref(), &client::mint_address())
            .await
            .unwrap(),
        total
    );
    let events = rpc.events(None, 10_000).await.unwrap();
    let plan = w.store.epoch_plan(0).await.unwrap().unwrap();
    let distributed = events
        .iter()
        .filter(|e| matches!(&e.event, client::StkEvent::ChunkDistributed(c) if c.epoch == 0))
        .count();
    assert_eq!(distributed as u32, plan.chunk_count);
    // The in-process side saw the same events (the watcher of `serve --local` reads them there).
    let local = stk_indexer::chain::Chain::events(&w.economy.chain, None, 10_000)
        .await
        .unwrap();
    assert_eq!(
        local
            .iter()
            .filter(|e| matches!(&e.event, client::StkEvent::ChunkDistributed(c) if c.epoch == 0))
            .count() as u32,
        plan.chunk_count
    );
    // Program accounts through the endpoint: the STK program's config and epoch accounts.
    let program_accounts = RpcClient::new(node.url.clone())
        .get_program_accounts(&stk::ID)
        .await
        .unwrap();
    assert!(program_accounts
        .iter()
        .any(|(k, _)| *k == client::config_address()));
}

/// `serve --local --rpc-listen`: the binary's JSON-RPC endpoint is backed by the bank its pipeline
/// runs on (the program is initialized there, with this service's oracle in the set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_local_serves_json_rpc_on_the_pipelines_bank() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let rules = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/rules.v1.toml");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stk-indexer"))
        .args(["serve", "--local", "--rpc-listen", "127.0.0.1:0"])
        .env(
            "STK_DATABASE__URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("stk.db").display()),
        )
        .env("STK_SERVER__LISTEN", "127.0.0.1:0")
        .env("STK_SCORING__RULES_PATH", rules)
        .env_remove("STK_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut oracle = None;
    let url = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("oracle ").nth(1) {
                oracle = rest.split_whitespace().next().map(str::to_string);
            }
            if let Some(rest) =
                line.strip_prefix("Solana JSON-RPC endpoint on the in-process chain: ")
            {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("serve --local exited without an endpoint");
    })
    .await
    .expect("the endpoint comes up");
    let rpc = RpcClient::new(url);
    rpc.get_health().await.unwrap();
    let config = rpc.get_account(&client::config_address()).await.unwrap();
    assert_eq!(
        config.owner,
        stk::ID,
        "the program is initialized on the served bank"
    );
    let config: stk::state::Config =
        anchor_lang::AccountDeserialize::try_deserialize(&mut config.data.as_slice()).unwrap();
    let oracle: Pubkey = oracle.expect("the oracle is printed").parse().unwrap();
    assert_eq!(config.oracles[0], oracle, "the service's own oracle");
    // The accounts it set up are listed by the account scans.
    let program_accounts = rpc.get_program_accounts(&stk::ID).await.unwrap();
    assert!(program_accounts
        .iter()
        .any(|(k, _)| *k == client::config_address()));
    child.kill().await.unwrap();
}
