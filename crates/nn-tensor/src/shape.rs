use crate::{Result, TensorError};

/// The NumPy broadcast of two shapes, or an error naming `op` and both shapes.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                })
            }
        };
    }
    Ok(out)
}

/// Maps a possibly negative axis (`-1` is the last) to `0..rank`, or an error naming `op`.
pub fn normalize_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let rank = shape.len() as isize;
    let a = if axis < 0 { axis + rank } else { axis };
    if a < 0 || a >= rank {
        return Err(TensorError::InvalidAxis {
            op,
            axis,
            shape: shape.to_vec(),
        });
    }
    Ok(a as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes_numpy_rules() {
        assert_eq!(
            broadcast_shapes("t", &[2, 1, 3], &[4, 1]).unwrap(),
            vec![2, 4, 3]
        );
        assert_eq!(broadcast_shapes("t", &[], &[3]).unwrap(), vec![3]);
        assert_eq!(broadcast_shapes("t", &[0, 1], &[1, 5]).unwrap(), vec![0, 5]);
        let e = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        assert!(e.to_string().contains("add") && e.to_string().contains("[2, 3]"));
    }

    #[test]
    fn normalize_axis_negative_and_out_of_range() {
        assert_eq!(normalize_axis("t", -1, &[2, 3]).unwrap(), 1);
        assert!(normalize_axis("sum", 2, &[2, 3]).is_err());
        assert!(normalize_axis("sum", -3, &[2, 3]).is_err());
    }
}
