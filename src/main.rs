use clap::Parser;

fn main() {
    let cli = liaison::cli::Cli::parse();
    std::process::exit(liaison::cli::main_with(cli));
}
