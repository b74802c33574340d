//! `cargo run -p stk-idl` regenerates `idls/stk.json`; `cargo run -p stk-idl -- --check` fails when the
//! committed IDL differs from what the program source produces. Same builder as `anchor idl build`: it
//! runs the program's `__anchor_private_print_idl` tests with the `idl-build` feature.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => bail!("unknown argument {other:?}; usage: stk-idl [--check]"),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let program = root.join("programs/stk");
    let out = root.join("idls/stk.json");

    // anchor-lang-idl 0.1.4 runs `cargo` from PATH and turns a set RUSTUP_TOOLCHAIN into the literal
    // argument `+{toolchain}` (which makes rustup go looking for toolchains). Run the nested build with
    // exactly the cargo that runs this tool instead.
    std::env::remove_var("RUSTUP_TOOLCHAIN");
    if let Some(dir) = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|cargo| cargo.parent().map(PathBuf::from))
    {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let joined =
            std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path)))?;
        std::env::set_var("PATH", joined);
    }
    let idl = anchor_lang_idl::build::IdlBuilder::new()
        .program_path(program)
        .resolution(true)
        // The IDL printers are unit tests of the lib: skip the integration tests (and the runtime).
        .cargo_args(vec!["--lib".into()])
        .build()
        .context("building the IDL (cargo test __anchor_private_print_idl --features idl-build)")?;
    let json = serde_json::to_string_pretty(&idl)? + "\n";

    if check {
        let committed =
            std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        if committed != json {
            bail!(
                "{} is stale: run `cargo run -p stk-idl` and commit the result",
                out.display()
            );
        }
        println!("{} is current", out.display());
    } else {
        std::fs::write(&out, json).with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
