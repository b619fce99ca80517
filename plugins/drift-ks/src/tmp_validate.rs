use crate::kolmogorov::kstwo_sf;
use crate::smirnov::smirnov;

fn rel(got: f64, exp: f64) -> f64 {
    if got == exp {
        0.0
    } else if exp == 0.0 {
        got.abs()
    } else {
        ((got - exp) / exp).abs()
    }
}

#[test]
fn tmp_table() {
    let text = std::fs::read_to_string("/tmp/ksw/table.json").unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_str(&text).unwrap();
    let mut worst_k = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut worst_s = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut bad = 0;
    for r in &rows {
        let (n, x, k, s) = (r[0] as u64, r[1], r[2], r[3]);
        let gk = kstwo_sf(n, x);
        let gs = smirnov(n as i64, x);
        let ek = rel(gk, k);
        let es = rel(gs, s);
        if ek > worst_k.0 {
            worst_k = (ek, n as f64, x, gk, k);
        }
        if es > worst_s.0 {
            worst_s = (es, n as f64, x, gs, s);
        }
        if ek > 1e-9 && (gk - k).abs() > 1e-14 {
            bad += 1;
            if bad < 30 {
                println!("kstwo n={n} x={x} got {gk:e} exp {k:e} rel {ek:e}");
            }
        }
        if es > 1e-12 && (gs - s).abs() > 1e-300 {
            bad += 1;
            if bad < 30 {
                println!("smirnov n={n} x={x} got {gs:e} exp {s:e} rel {es:e}");
            }
        }
    }
    println!(
        "rows {} worst kstwo {:?} worst smirnov {:?} bad {bad}",
        rows.len(),
        worst_k,
        worst_s
    );
}

#[test]
fn tmp_timing() {
    for &(n, x) in &[
        (1000000u64, 0.002),
        (1000000, 0.0015),
        (500000, 0.0025),
        (500000, 0.001),
        (99999, 0.0006),
        (99999, 0.002),
        (5739, 0.02),
        (5739, 0.005),
        (2000, 0.03),
    ] {
        let t = std::time::Instant::now();
        let v = kstwo_sf(n, x);
        let dt = t.elapsed();
        let t = std::time::Instant::now();
        let s = smirnov(n as i64, x);
        let ds = t.elapsed();
        println!("{n} {x} {v:e} {dt:?} {s:e} {ds:?}");
    }
}
