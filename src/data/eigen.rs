//! Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations, for the
//! principal components of pixel colours (AlexNet's colour augmentation).
//!
//! Each rotation zeroes one off-diagonal element; a few sweeps over the three of them
//! drive the matrix to diagonal form (Numerical Recipes §11.1).

// Index loops read like the matrix algebra they implement.
#![allow(clippy::needless_range_loop)]

pub type Matrix3 = [[f64; 3]; 3];

/// Eigenvalues in descending order, and `vectors[k]`, the unit eigenvector of
/// `values[k]`, with its largest-magnitude component positive (so the result is unique
/// for distinct eigenvalues).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eigen3 {
    pub values: [f64; 3],
    pub vectors: [[f64; 3]; 3],
}

fn multiply(a: &Matrix3, b: &Matrix3) -> Matrix3 {
    let mut c = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            c[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

fn transpose(a: &Matrix3) -> Matrix3 {
    let mut t = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            t[i][j] = a[j][i];
        }
    }
    t
}

/// Eigen-decomposition of the symmetric matrix `a` (only its upper triangle is read).
pub fn symmetric_eigen(a: &Matrix3) -> Eigen3 {
    let mut a = *a;
    for i in 0..3 {
        for j in 0..i {
            a[i][j] = a[j][i];
        }
    }
    let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut v = identity; // columns: eigenvectors so far

    let scale: f64 = a.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..32 {
        let off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs();
        if off <= 1e-15 * scale {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            // The angle that zeroes a[p][q]; t = tan(angle), the smaller root.
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            let mut r = identity;
            r[p][p] = c;
            r[q][q] = c;
            r[p][q] = s;
            r[q][p] = -s;
            a = multiply(&transpose(&r), &multiply(&a, &r));
            v = multiply(&v, &r);
        }
    }

    let mut order = [0, 1, 2];
    order.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]));
    let values = order.map(|k| a[k][k]);
    let vectors = order.map(|k| {
        let mut vec = [v[0][k], v[1][k], v[2][k]];
        let big = vec
            .iter()
            .copied()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if big < 0.0 {
            vec = vec.map(|x| -x);
        }
        vec
    });
    Eigen3 { values, vectors }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_decomposition(a: &Matrix3, e: &Eigen3) {
        for k in 0..3 {
            let p = e.vectors[k];
            let norm: f64 = p.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-12, "vector {k} norm {norm}");
            for i in 0..3 {
                let ap: f64 = (0..3).map(|j| a[i][j] * p[j]).sum();
                assert!(
                    (ap - e.values[k] * p[i]).abs() < 1e-10,
                    "A p != lambda p for k={k}, row {i}"
                );
            }
            for l in 0..k {
                let dot: f64 = (0..3).map(|i| p[i] * e.vectors[l][i]).sum();
                assert!(
                    dot.abs() < 1e-12,
                    "vectors {l} and {k} not orthogonal: {dot}"
                );
            }
        }
        assert!(
            e.values[0] >= e.values[1] && e.values[1] >= e.values[2],
            "not sorted: {:?}",
            e.values
        );
    }

    #[test]
    fn tridiagonal_matrix_has_known_eigenvalues() {
        // Eigenvalues 2 - sqrt 2, 2, 2 + sqrt 2; eigenvector of 2 is (1, 0, -1)/sqrt 2.
        let a = [[2.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 2.0]];
        let e = symmetric_eigen(&a);
        let r2 = 2f64.sqrt();
        let expect = [2.0 + r2, 2.0, 2.0 - r2];
        for k in 0..3 {
            assert!(
                (e.values[k] - expect[k]).abs() < 1e-12,
                "{:?} vs {expect:?}",
                e.values
            );
        }
        let mid = e.vectors[1];
        assert!(
            (mid[0] - 1.0 / r2).abs() < 1e-12
                && mid[1].abs() < 1e-12
                && (mid[2] + 1.0 / r2).abs() < 1e-12,
            "{mid:?}"
        );
        check_decomposition(&a, &e);
    }

    #[test]
    fn rotated_diagonal_matrix_recovers_its_axes() {
        // A = R diag(5, 2, 0.5) R^T with R a rotation: eigenvectors are R's columns.
        let (s, c) = 0.7f64.sin_cos();
        let rz = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let (s, c) = 0.3f64.sin_cos();
        let rx = [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]];
        let r = multiply(&rz, &rx);
        let d = [[5.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.5]];
        let a = multiply(&r, &multiply(&d, &transpose(&r)));
        let e = symmetric_eigen(&a);
        for (k, want) in [5.0, 2.0, 0.5].iter().enumerate() {
            assert!((e.values[k] - want).abs() < 1e-12, "{:?}", e.values);
            let dot: f64 = (0..3).map(|i| e.vectors[k][i] * r[i][k]).sum();
            assert!(
                (dot.abs() - 1.0).abs() < 1e-12,
                "vector {k} is not R's column {k}"
            );
        }
        check_decomposition(&a, &e);
    }

    #[test]
    fn diagonal_and_zero_matrices() {
        let e = symmetric_eigen(&[[1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 2.0]]);
        assert_eq!(e.values, [3.0, 2.0, 1.0]);
        assert_eq!(
            e.vectors,
            [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        );
        let z = symmetric_eigen(&[[0.0; 3]; 3]);
        assert_eq!(z.values, [0.0; 3]);
    }
}
