//! Criterion benchmark of the numerical-core workloads (`cargo bench -p engram --bench nn`).
//! The workloads themselves live in `engram::bench`, shared with `engram bench`.

use criterion::{criterion_group, criterion_main, Criterion};

fn workloads(c: &mut Criterion) {
    for w in engram::bench::nn_workloads()
        .into_iter()
        .chain(engram::bench::dqn_workloads())
        .chain(engram::bench::r2d2_workloads())
    {
        let mut f = w.instantiate();
        c.bench_function(&w.name, |b| b.iter(&mut f));
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
