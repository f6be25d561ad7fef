//! Collector ingest rate: records per second one connection thread parses and weights.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use profbench_sampler::ingest::ProcessData;

/// A realistic stream: 4 threads, 20-frame stacks (recursion-like), a code record now and then.
fn stream(n: usize) -> Vec<String> {
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        if i % 50 == 0 {
            lines.push(format!(
                "C\t{}\t/home/user/project/module_{}.py\tfunction_{}\t{}\n",
                i / 50,
                i % 7,
                i,
                i % 300
            ));
        } else {
            let frames: Vec<String> = (0..20)
                .map(|d| format!("{}:{}", (d * 7 + i) % (i / 50 + 1), 10 + d))
                .collect();
            lines.push(format!(
                "S\t{}\t{}\t{}\t{}\n",
                1000 + i % 4,
                1_000_000_000 + i * 2_500_000,
                i * 1_000_000,
                frames.join(" ")
            ));
        }
    }
    lines
}

fn ingest(c: &mut Criterion) {
    let lines = stream(10_000);
    let mut g = c.benchmark_group("collector");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("ingest 10k records (20-frame stacks)", |b| {
        b.iter(|| {
            let mut p = ProcessData::new(10_000_000);
            for l in &lines {
                p.ingest_line(l);
            }
            assert_eq!(p.bad_lines, 0);
            p.samples.len()
        })
    });
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
