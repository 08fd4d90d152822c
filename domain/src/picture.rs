//! How a photo is made lighter in the browser: to [`LONG_SIDE`] pixels on its long
//! side, through canvases that halve it (one large reduction loses fine lines of
//! text), none larger than iOS Safari allows.

/// The long side of a reduced photo: a page stays legible.
pub const LONG_SIDE: u32 = 2000;
/// iOS Safari refuses a canvas of more pixels than this.
pub const CANVAS_PIXELS: u64 = 16_777_216;

/// The sizes of the canvases a `width` × `height` picture is drawn into, in order; the
/// last is the reduced photo (the picture itself when it is small enough). Empty for
/// a picture without pixels.
pub fn reduction_steps(width: u32, height: u32) -> Vec<(u32, u32)> {
    if width == 0 || height == 0 {
        return Vec::new();
    }
    let scale = (f64::from(LONG_SIDE) / f64::from(width.max(height))).min(1.0);
    let target = (
        ((f64::from(width) * scale).round() as u32).max(1),
        ((f64::from(height) * scale).round() as u32).max(1),
    );
    let mut steps = Vec::new();
    let (mut w, mut h) = (f64::from(width), f64::from(height));
    loop {
        let limit = (CANVAS_PIXELS as f64 / (w * h)).sqrt();
        // Halves while more than halving is left (or the next canvas would be too
        // large), then the target exactly: a size found by rounding could miss it by
        // a pixel for ever.
        let next = if w / 2.0 > f64::from(target.0) || limit < 1.0 {
            let step = limit.min(0.5).max(f64::from(target.0) / w);
            (
                ((w * step).floor() as u32).max(target.0),
                ((h * step).floor() as u32).max(target.1),
            )
        } else {
            target
        };
        steps.push(next);
        if next == target {
            return steps;
        }
        (w, h) = (f64::from(next.0), f64::from(next.1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_picture_ends_at_the_target_through_canvases_a_phone_accepts() {
        let mut sizes = vec![(1082, 2202), (2202, 1082), (4032, 3024), (12_000, 9_000)];
        sizes.extend([
            (1, 1),
            (2000, 2000),
            (2001, 1),
            (1, 100_000),
            (100, 1_000_000),
        ]);
        // Every size around the long side, both ways: the rounding that once looped.
        for long in 1990..2400 {
            for short in [1, 333, 1082, 1500, 1999] {
                sizes.push((long, short));
                sizes.push((short, long));
            }
        }
        for (w, h) in sizes {
            let steps = reduction_steps(w, h);
            let &(tw, th) = steps.last().expect("at least one canvas");
            assert!(tw.max(th) <= LONG_SIDE, "{w}×{h} → {tw}×{th}");
            if w.max(h) <= LONG_SIDE {
                assert_eq!((tw, th), (w, h), "a small picture keeps its size");
            } else {
                // The shape is kept, within a pixel.
                let ratio = f64::from(w) / f64::from(h);
                assert!((f64::from(tw) - f64::from(th) * ratio).abs() <= ratio.max(1.0) + 1.0);
            }
            assert!(steps.len() <= 40, "{w}×{h}: {} canvases", steps.len());
            for (sw, sh) in &steps {
                assert!(
                    u64::from(*sw) * u64::from(*sh) <= CANVAS_PIXELS,
                    "{w}×{h}: {sw}×{sh}"
                );
            }
        }
        assert!(reduction_steps(0, 10).is_empty());
    }
}
