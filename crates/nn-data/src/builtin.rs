//! Small real datasets embedded in the crate: [`iris`], [`digits`], [`wine`] and
//! [`breast_cancer`] (provenance and licences in `data/PROVENANCE.md`).
//!
//! Each is parsed from the embedded file on every call (a few milliseconds at most) and
//! returned as a [`BuiltinDataset`]: features `x` `[N, F]` as `f32` in their original units
//! (no scaling: fit a [`StandardScaler`](crate::StandardScaler) on the training part) and
//! labels `y` `[N]` as `f32` class indices into `class_names`.

use std::io::Read;
use std::path::Path;

use crate::csv::{parse_impl, CsvOptions};
use crate::{DataError, Result, TensorDataset};
use nn_tensor::Tensor;

const IRIS: &str = include_str!("../data/iris.csv");
const WINE: &str = include_str!("../data/wine_data.csv");
const BREAST_CANCER: &str = include_str!("../data/breast_cancer.csv");
const DIGITS_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

/// An embedded dataset with its class names.
#[derive(Clone, Debug)]
pub struct BuiltinDataset {
    /// The dataset's name (`"iris"`, `"digits"`, `"wine"`, `"breast_cancer"`).
    pub name: &'static str,
    /// Features `[N, F]` and labels `[N]`.
    pub data: TensorDataset,
    /// The name of each class, indexed by label.
    pub class_names: Vec<String>,
    /// The number of features `F`.
    pub n_features: usize,
}

impl BuiltinDataset {
    /// The features `[N, F]`.
    pub fn x(&self) -> &Tensor<f32> {
        self.data.x()
    }

    /// The labels `[N]`.
    pub fn y(&self) -> &Tensor<f32> {
        self.data.y()
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there is no sample (never, for the embedded data).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// Fisher's Iris: 150 samples × 4 features (sepal length, sepal width, petal length, petal
/// width, in cm), 3 classes (setosa, versicolor, virginica), 50 each.
pub fn iris() -> Result<BuiltinDataset> {
    load("iris", "iris.csv", IRIS, 150, 4, 3)
}

/// Wine recognition: 178 samples × 13 chemical measurements, 3 cultivars (59, 71, 48).
pub fn wine() -> Result<BuiltinDataset> {
    load("wine", "wine_data.csv", WINE, 178, 13, 3)
}

/// Wisconsin Diagnostic Breast Cancer: 569 samples × 30 features, 2 classes (malignant 212,
/// benign 357).
pub fn breast_cancer() -> Result<BuiltinDataset> {
    load(
        "breast_cancer",
        "breast_cancer.csv",
        BREAST_CANCER,
        569,
        30,
        2,
    )
}

/// Hand-written digits: 1797 samples × 64 pixels (8 × 8 images, row-major), 10 classes
/// (`"0"` … `"9"`). Pixels are raw counts in `0..=16` (not scaled: divide by 16 or fit a
/// scaler).
pub fn digits() -> Result<BuiltinDataset> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(DIGITS_GZ)
        .read_to_string(&mut text)
        .map_err(|e| DataError::io("nn-data/data/digits.csv.gz", e))?;
    load("digits", "digits.csv.gz", &text, 1797, 64, 10)
}

/// Parses the embedded format: an optional header `n_samples,n_features,<class names...>`
/// (present when a field is not a number), then rows of features and an integer label.
fn load(
    name: &'static str,
    file: &str,
    text: &str,
    samples: usize,
    features: usize,
    classes: usize,
) -> Result<BuiltinDataset> {
    let path = Path::new("nn-data/data").join(file);
    let first = text.lines().next().unwrap_or("");
    let is_header = first.split(',').any(|f| f.trim().parse::<f32>().is_err());
    let (body, line0, class_names) = if is_header {
        let fields: Vec<&str> = first.split(',').map(str::trim).collect();
        let count = |i: usize| fields.get(i).and_then(|f| f.parse::<usize>().ok());
        if count(0) != Some(samples) || count(1) != Some(features) || fields.len() != 2 + classes {
            return Err(DataError::Csv {
                path,
                line: 1,
                column: 0,
                message: format!(
                    "header `{first}` does not describe {samples} samples x {features} features, \
                     {classes} classes"
                ),
            });
        }
        let body = text.split_once('\n').map_or("", |(_, rest)| rest);
        (body, 2, fields[2..].iter().map(|s| s.to_string()).collect())
    } else {
        (
            text,
            1,
            (0..classes).map(|c| c.to_string()).collect::<Vec<_>>(),
        )
    };
    let options = CsvOptions {
        has_header: false,
        label_column: Some(-1),
        delimiter: b',',
    };
    let data = parse_impl(body, options, &path, line0)?.into_dataset()?;
    let found = [data.len(), data.x().shape()[1]];
    if found != [samples, features] {
        return Err(DataError::Shape {
            what: format!("builtin dataset {name}"),
            expected: vec![samples, features],
            found: found.to_vec(),
        });
    }
    if data.num_classes()? > classes {
        return Err(DataError::invalid(format!(
            "builtin dataset {name}: a label is beyond its {classes} classes"
        )));
    }
    Ok(BuiltinDataset {
        name,
        data,
        class_names,
        n_features: features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(d: &BuiltinDataset, i: usize) -> Vec<f32> {
        let f = d.n_features;
        d.x().to_vec()[i * f..(i + 1) * f].to_vec()
    }

    #[test]
    fn builtin_iris() {
        let d = iris().unwrap();
        assert_eq!(d.x().shape(), &[150, 4]);
        assert_eq!(d.y().shape(), &[150]);
        assert_eq!(d.class_names, vec!["setosa", "versicolor", "virginica"]);
        assert_eq!(row(&d, 0), vec![5.1, 3.5, 1.4, 0.2]);
        assert_eq!(d.y().to_vec()[0], 0.0);
        assert_eq!(row(&d, 149), vec![5.9, 3.0, 5.1, 1.8]);
        assert_eq!(d.y().to_vec()[149], 2.0);
        assert_eq!(d.data.class_counts().unwrap(), vec![50, 50, 50]);
        assert_eq!(d.num_classes(), 3);
    }

    #[test]
    fn builtin_digits() {
        let d = digits().unwrap();
        assert_eq!(d.x().shape(), &[1797, 64]);
        assert_eq!(d.num_classes(), 10);
        assert_eq!(d.class_names[7], "7");
        assert_eq!(row(&d, 0)[..8], [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]);
        assert_eq!(d.y().to_vec()[0], 0.0);
        assert_eq!(d.y().to_vec()[1796], 8.0);
        let x = d.x().to_vec();
        assert!(x
            .iter()
            .all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0));
        assert_eq!(x.iter().cloned().fold(0.0, f32::max), 16.0);
        assert_eq!(
            d.data.class_counts().unwrap(),
            vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
    }

    #[test]
    fn builtin_wine() {
        let d = wine().unwrap();
        assert_eq!(d.x().shape(), &[178, 13]);
        assert_eq!(d.num_classes(), 3);
        assert_eq!(row(&d, 0)[..3], [14.23, 1.71, 2.43]);
        assert_eq!(row(&d, 0)[12], 1065.0);
        assert_eq!(d.data.class_counts().unwrap(), vec![59, 71, 48]);
    }

    #[test]
    fn builtin_breast_cancer() {
        let d = breast_cancer().unwrap();
        assert_eq!(d.x().shape(), &[569, 30]);
        assert_eq!(d.class_names, vec!["malignant", "benign"]);
        assert_eq!(row(&d, 0)[..2], [17.99, 10.38]);
        assert_eq!(d.y().to_vec()[0], 0.0);
        assert_eq!(d.data.class_counts().unwrap(), vec![212, 357]);
    }

    #[test]
    fn builtin_format_errors() {
        let e = load("t", "t.csv", "3,2,a,b\n1,2,0\n", 3, 2, 2).unwrap_err();
        assert!(matches!(e, DataError::Shape { .. }), "{e}");
        let e = load("t", "t.csv", "1,2,a\n1,2,0\n", 1, 2, 2).unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        let e = load("t", "t.csv", "1,2,a,b\n1,2,5\n", 1, 2, 2).unwrap_err();
        assert!(e.to_string().contains("beyond"), "{e}");
        // line numbers count the header
        let e = load("t", "t.csv", "2,2,a,b\n1,2,0\n1,x,1\n", 2, 2, 2).unwrap_err();
        assert!(e.to_string().contains("t.csv:3:2"), "{e}");
    }
}
