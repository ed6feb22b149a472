//! `iotda-batchtask`: stop IoTDA batch tasks from the command line, run the
//! built-in emulator, or watch a demo. See `iotda-batchtask --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
