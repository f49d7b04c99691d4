//! Generates the etcd v3 wire types, the gRPC services and rkube's internal records from
//! `proto/` (needs `protoc`, Debian's protobuf-compiler).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/kv.proto", "proto/rpc.proto", "proto/internal.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&files, &["proto"])?;
    Ok(())
}
