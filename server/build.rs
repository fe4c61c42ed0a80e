// The dashboard's build output is embedded (src/dashboard.rs); rebuild when it
// changes, including when files are added or removed.
fn main() {
    println!("cargo:rerun-if-changed=../dashboard/dist");
}
