fn main() {
    println!("engram {}", env!("CARGO_PKG_VERSION"));
}
