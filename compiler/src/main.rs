//! The `edgeflag` command line.

mod cli;
mod publish;
mod serve;

fn main() -> std::process::ExitCode {
    cli::main()
}
