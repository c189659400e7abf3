//! Plane geometry used by the engine and the photo maker: points, boxes and the similarity
//! transforms that map face crops to and from image coordinates. Pure maths, no I/O.

use serde::Serialize;

/// A point in image pixels (x to the right, y down).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }
    pub fn distance(self, other: Point) -> f32 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
    pub fn midpoint(self, other: Point) -> Point {
        Point::new((self.x + other.x) * 0.5, (self.y + other.y) * 0.5)
    }
    /// The point `t` of the way from this one to `other`.
    pub fn lerp(self, other: Point, t: f32) -> Point {
        Point::new(
            self.x + (other.x - self.x) * t,
            self.y + (other.y - self.y) * t,
        )
    }
}

/// Whether `p` lies inside the closed polygon `outline` (even-odd rule; the last point joins
/// the first).
pub fn polygon_contains(outline: &[Point], p: Point) -> bool {
    let mut inside = false;
    let mut j = outline.len().wrapping_sub(1);
    for (i, a) in outline.iter().enumerate() {
        let b = outline[j];
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// An axis-aligned box in image pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct BoundingBox {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl BoundingBox {
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn centre(&self) -> Point {
        Point::new((self.x0 + self.x1) * 0.5, (self.y0 + self.y1) * 0.5)
    }
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let ix = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let iy = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
    /// The box around a set of points.
    pub fn around(points: impl IntoIterator<Item = Point>) -> Option<BoundingBox> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let mut b = BoundingBox {
            x0: first.x,
            y0: first.y,
            x1: first.x,
            y1: first.y,
        };
        for p in it {
            b.x0 = b.x0.min(p.x);
            b.y0 = b.y0.min(p.y);
            b.x1 = b.x1.max(p.x);
            b.y1 = b.y1.max(p.y);
        }
        Some(b)
    }
    /// Grows (or shrinks) the box about its centre.
    pub fn scaled(&self, fx: f32, fy: f32) -> BoundingBox {
        let c = self.centre();
        let hw = self.width() * fx * 0.5;
        let hh = self.height() * fy * 0.5;
        BoundingBox {
            x0: c.x - hw,
            y0: c.y - hh,
            x1: c.x + hw,
            y1: c.y + hh,
        }
    }
    /// Clamps to an image of `w`×`h`, returning integer pixel bounds `(x0, y0, x1, y1)` with
    /// `x1`/`y1` exclusive, or `None` when nothing is left.
    pub fn clamp_to(&self, w: u32, h: u32) -> Option<(u32, u32, u32, u32)> {
        let x0 = self.x0.max(0.0).floor() as u32;
        let y0 = self.y0.max(0.0).floor() as u32;
        let x1 = (self.x1.min(w as f32).ceil().max(0.0) as u32).min(w);
        let y1 = (self.y1.min(h as f32).ceil().max(0.0) as u32).min(h);
        (x1 > x0 && y1 > y0).then_some((x0, y0, x1, y1))
    }
}

/// `dst = scale·R(angle)·src + t`: maps source coordinates to destination coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// scale·cos(angle)
    pub a: f32,
    /// scale·sin(angle)
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    pub fn identity() -> Self {
        Self {
            a: 1.0,
            b: 0.0,
            tx: 0.0,
            ty: 0.0,
        }
    }
    pub fn apply(&self, p: Point) -> Point {
        Point::new(
            self.a * p.x - self.b * p.y + self.tx,
            self.b * p.x + self.a * p.y + self.ty,
        )
    }
    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }
    pub fn inverse(&self) -> Similarity {
        let d = self.a * self.a + self.b * self.b;
        let (ia, ib) = (self.a / d, -self.b / d);
        // inverse: p = R'(q - t)
        let tx = -(ia * self.tx - ib * self.ty);
        let ty = -(ib * self.tx + ia * self.ty);
        Similarity {
            a: ia,
            b: ib,
            tx,
            ty,
        }
    }
    /// The transform that maps a square of side `side` centred on `centre` in the source,
    /// rotated by `angle` radians, onto a `size`×`size` destination.
    pub fn crop(centre: Point, side: f32, angle: f32, size: f32) -> Similarity {
        let s = size / side.max(1e-3);
        // rotate by -angle so that the tilted face becomes upright
        let (a, b) = (s * (-angle).cos(), s * (-angle).sin());
        let half = size * 0.5;
        let tx = half - (a * centre.x - b * centre.y);
        let ty = half - (b * centre.x + a * centre.y);
        Similarity { a, b, tx, ty }
    }
    /// Least-squares similarity mapping `src[i]` onto `dst[i]` (Umeyama without reflection).
    pub fn estimate(src: &[Point], dst: &[Point]) -> Option<Similarity> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let nf = n as f32;
        let (mut sx, mut sy, mut dx, mut dy) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            sx += src[i].x;
            sy += src[i].y;
            dx += dst[i].x;
            dy += dst[i].y;
        }
        let (sx, sy, dx, dy) = (sx / nf, sy / nf, dx / nf, dy / nf);
        let (mut num_a, mut num_b, mut den) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (px, py) = (src[i].x - sx, src[i].y - sy);
            let (qx, qy) = (dst[i].x - dx, dst[i].y - dy);
            num_a += px * qx + py * qy;
            num_b += px * qy - py * qx;
            den += px * px + py * py;
        }
        if den <= f32::EPSILON {
            return None;
        }
        let a = num_a / den;
        let b = num_b / den;
        Some(Similarity {
            a,
            b,
            tx: dx - (a * sx - b * sy),
            ty: dy - (b * sx + a * sy),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_inside_a_polygon_or_not() {
        let square = [
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(10.0, 10.0),
            Point::new(0.0, 10.0),
        ];
        assert!(polygon_contains(&square, Point::new(5.0, 5.0)));
        assert!(!polygon_contains(&square, Point::new(15.0, 5.0)));
        assert!(!polygon_contains(&square, Point::new(5.0, -1.0)));
        assert!(!polygon_contains(&[], Point::new(0.0, 0.0)));
    }

    #[test]
    fn inverse_round_trips() {
        let t = Similarity::crop(Point::new(120.0, 80.0), 64.0, 0.3, 192.0);
        let p = Point::new(100.0, 90.0);
        let q = t.inverse().apply(t.apply(p));
        assert!(p.distance(q) < 1e-3, "{q:?}");
    }

    #[test]
    fn estimate_recovers_a_known_transform() {
        let t = Similarity {
            a: 1.5,
            b: 0.4,
            tx: 10.0,
            ty: -3.0,
        };
        let src = [
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(3.0, 7.0),
        ];
        let dst: Vec<Point> = src.iter().map(|p| t.apply(*p)).collect();
        let e = Similarity::estimate(&src, &dst).unwrap();
        assert!((e.a - 1.5).abs() < 1e-4 && (e.b - 0.4).abs() < 1e-4);
        assert!((e.tx - 10.0).abs() < 1e-3 && (e.ty + 3.0).abs() < 1e-3);
    }

    #[test]
    fn iou_of_disjoint_boxes_is_zero() {
        let a = BoundingBox {
            x0: 0.0,
            y0: 0.0,
            x1: 1.0,
            y1: 1.0,
        };
        let b = BoundingBox {
            x0: 2.0,
            y0: 2.0,
            x1: 3.0,
            y1: 3.0,
        };
        assert_eq!(a.iou(&b), 0.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
    }
}
