//! What it costs to hand a Python component (componentize-py) a column of numbers as a
//! `list<f64>`, as the plugin contract does today, against the same numbers as the bytes of
//! little-endian f64s (`list<u8>`), which componentize-py lifts as one `bytes` object and the
//! guest reads with `array('d', …)`. The figures are in BENCHMARKS.md ("Python plugins").
//!
//! ```text
//! cd host/runtime/examples/python_crossing
//! componentize-py -d world.wit -w crossing componentize count -o /tmp/count.wasm
//! componentize-py -d world.wit -w crossing componentize mean -o /tmp/mean.wasm
//! cargo run --release -p vigil-runtime --example python_crossing -- /tmp/count.wasm /tmp/mean.wasm
//! ```
//!
//! Each component is instantiated once and called many times (as a monitor's drift test is):
//! medians of 20,000 calls on 100 values and of 50 calls on 100,000.

use std::hint::black_box;
use std::time::Instant;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({ world: "crossing", path: "examples/python_crossing/world.wit" });

struct State {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Median time of `call`, in microseconds, after a tenth as many calls to warm up.
fn median_us(mut call: impl FnMut(), calls: usize) -> f64 {
    for _ in 0..calls / 10 + 1 {
        call();
    }
    let mut times: Vec<f64> = (0..calls)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[calls / 2]
}

fn main() -> wasmtime::Result<()> {
    let engine = Engine::new(&Config::new())?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    for path in std::env::args().skip(1) {
        let component = Component::from_file(&engine, &path)?;
        let mut store = Store::new(
            &engine,
            State {
                ctx: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            },
        );
        let crossing = Crossing::instantiate(&mut store, &component, &linker)?;
        for n in [100, 100_000] {
            let values: Vec<f64> = (0..n)
                .map(|i| ((i * 7919) % 1000) as f64 / 100.0 + 0.5)
                .collect();
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let calls = if n == 100 { 20_000 } else { 50 };
            let floats = median_us(
                || {
                    black_box(crossing.call_floats(&mut store, &values).unwrap());
                },
                calls,
            );
            let as_bytes = median_us(
                || {
                    black_box(crossing.call_bytes(&mut store, &bytes).unwrap());
                },
                calls,
            );
            println!(
                "{path}, {n} values: list<f64> {floats:.2} µs, list<u8> {as_bytes:.2} µs ({:.1}x)",
                floats / as_bytes
            );
        }
    }
    Ok(())
}
