fn main() -> std::process::ExitCode {
    podsizer::cli::main()
}
