//! Quick run of the numerical-core workloads without criterion (what `engram bench` prints):
//! `cargo run --release -p engram --example nn_bench -- [filter] [--full] [--json]`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let full = args.iter().any(|a| a == "--full");
    let filter = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str);
    let results = engram::bench::run(filter, !full);
    if json {
        for r in &results {
            println!("{}", r.to_json());
        }
    } else {
        print!("{}", engram::bench::format_table(&results));
    }
}
