//! The checks every standard preprocessor makes on a batch (docs/preprocessors.md): columns
//! matched by name, so names must be unique and lengths equal, and a column keeps the kind it
//! had in the reference.

use std::collections::{HashMap, HashSet};

use vigil_plugin_sdk::{Batch, Column, ColumnData, ColumnKind, Error, Result};

/// The kind of a column's data.
pub fn kind(data: &ColumnData) -> ColumnKind {
    match data {
        ColumnData::Numeric(_) => ColumnKind::Numeric,
        ColumnData::Categorical(_) => ColumnKind::Categorical,
    }
}

/// The kind as the error messages spell it.
pub fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Numeric => "numeric",
        ColumnKind::Categorical => "categorical",
    }
}

/// Columns must have distinct names (they are matched by name) and equal lengths; `what` names
/// the batch in the error ("reference", "input").
pub fn check_shape(batch: &Batch, what: &str) -> Result<()> {
    let mut names = HashSet::new();
    for column in &batch.columns {
        if !names.insert(column.name.as_str()) {
            return Err(Error::InvalidInput(format!(
                "the {what} has two columns named `{}`",
                column.name
            )));
        }
    }
    if let Some(first) = batch.columns.first() {
        let rows = first.data.len();
        if let Some(other) = batch.columns.iter().find(|c| c.data.len() != rows) {
            return Err(Error::InvalidInput(format!(
                "the {what}'s columns differ in length: `{}` has {rows} rows, `{}` has {}",
                first.name,
                other.name,
                other.data.len()
            )));
        }
    }
    Ok(())
}

/// The kind of every column of a (checked) reference, by name.
pub fn kinds(reference: &Batch) -> HashMap<String, ColumnKind> {
    reference
        .columns
        .iter()
        .map(|c| (c.name.clone(), kind(&c.data)))
        .collect()
}

/// An input column the reference also had must have kept its kind.
pub fn check_kinds(input: &Batch, kinds: &HashMap<String, ColumnKind>) -> Result<()> {
    for column in &input.columns {
        let actual = kind(&column.data);
        if let Some(&expected) = kinds.get(&column.name)
            && expected != actual
        {
            return Err(Error::InvalidInput(format!(
                "column `{}` is {} in the input but was {} in the reference",
                column.name,
                kind_name(actual),
                kind_name(expected)
            )));
        }
    }
    Ok(())
}

/// Every configured column must be in the input: `purpose` says what it was configured for
/// ("imputation").
pub fn check_present<'a>(
    input: &Batch,
    required: impl IntoIterator<Item = &'a String>,
    purpose: &str,
) -> Result<()> {
    for name in required {
        if !input.columns.iter().any(|c| &c.name == name) {
            return Err(Error::InvalidInput(format!(
                "column `{name}` is configured for {purpose} but missing from the input"
            )));
        }
    }
    Ok(())
}

/// A configured column name must be a column of the reference, of the `wanted` kind (any kind
/// when `None`); `setting` names the configuration field in the error.
pub fn check_configured(
    name: &str,
    setting: &str,
    kinds: &HashMap<String, ColumnKind>,
    wanted: Option<ColumnKind>,
) -> Result<()> {
    match kinds.get(name) {
        None => {
            let mut available: Vec<&str> = kinds.keys().map(String::as_str).collect();
            available.sort_unstable();
            Err(Error::InvalidConfig(format!(
                "{setting} names `{name}`, which the reference does not have (it has: {})",
                available.join(", ")
            )))
        }
        Some(&kind) if wanted.is_some_and(|w| w != kind) => Err(Error::InvalidConfig(format!(
            "{setting} names `{name}`, which is {}; only {} columns can be used here",
            kind_name(kind),
            kind_name(wanted.expect("checked")),
        ))),
        Some(_) => Ok(()),
    }
}

/// The input's columns with `f` applied to each, in order.
pub fn map_columns(batch: Batch, mut f: impl FnMut(Column) -> Result<Column>) -> Result<Batch> {
    let columns = batch
        .columns
        .into_iter()
        .map(&mut f)
        .collect::<Result<_>>()?;
    Ok(Batch { columns })
}

/// The numeric reference columns a `columns` setting picks, and the names every input must
/// then carry.
pub struct NumericSelection<'a> {
    /// Name and values of each picked reference column, in the reference's order.
    pub columns: Vec<(&'a str, &'a [f64])>,
    /// The listed names (none when the setting is not given).
    pub required: Vec<String>,
}

/// The numeric columns of `reference` that `listed` names (distinct numeric columns of the
/// reference, a non-empty list), or every numeric column when `listed` is `None`.
pub fn select_numeric<'a>(
    reference: &'a Batch,
    kinds: &HashMap<String, ColumnKind>,
    listed: Option<&[String]>,
) -> Result<NumericSelection<'a>> {
    let (picked, required) = select(reference, kinds, listed, ColumnKind::Numeric)?;
    let columns = picked
        .into_iter()
        .filter_map(|c| match &c.data {
            ColumnData::Numeric(values) => Some((c.name.as_str(), values.as_slice())),
            ColumnData::Categorical(_) => None,
        })
        .collect();
    Ok(NumericSelection { columns, required })
}

/// The columns of `kind` that `listed` names (distinct columns of the reference of that kind,
/// a non-empty list), or every column of that kind when `listed` is `None`; and the listed
/// names, which every input must carry.
pub fn select<'a>(
    reference: &'a Batch,
    kinds: &HashMap<String, ColumnKind>,
    listed: Option<&[String]>,
    kind: ColumnKind,
) -> Result<(Vec<&'a Column>, Vec<String>)> {
    if let Some(names) = listed {
        if names.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "columns is empty; list the columns, or omit it to use every {} column",
                kind_name(kind)
            )));
        }
        let mut seen = HashSet::new();
        for name in names {
            if !seen.insert(name) {
                return Err(Error::InvalidConfig(format!(
                    "columns lists `{name}` twice"
                )));
            }
            check_configured(name, "columns", kinds, Some(kind))?;
        }
    }
    let picked = reference
        .columns
        .iter()
        .filter(|c| listed.is_none_or(|names| names.contains(&c.name)))
        .filter(|c| self::kind(&c.data) == kind)
        .collect();
    Ok((picked, listed.map(<[String]>::to_vec).unwrap_or_default()))
}

/// A reference column to fit must hold finite values (NaN for missing) and at least one.
pub fn check_fittable(name: &str, values: &[f64]) -> Result<()> {
    if let Some(x) = values.iter().find(|x| x.is_infinite()) {
        return Err(Error::InvalidInput(format!(
            "reference column `{name}` contains {x}; only finite values (or NaN for missing) \
             can be fitted"
        )));
    }
    if values.iter().all(|x| x.is_nan()) {
        return Err(Error::InvalidInput(format!(
            "reference column `{name}` has no non-missing values to fit; leave it out with the \
             `columns` setting"
        )));
    }
    Ok(())
}

/// The input with `f(fitted, x)` applied to every value of each numeric column that has a
/// fitted entry; other columns pass through.
pub fn transform_numeric<F>(
    input: Batch,
    fitted: &HashMap<String, F>,
    f: impl Fn(&F, f64) -> f64,
) -> Batch {
    let columns = input
        .columns
        .into_iter()
        .map(|column| match (fitted.get(&column.name), column.data) {
            (Some(fit), ColumnData::Numeric(mut values)) => {
                for x in &mut values {
                    *x = f(fit, *x);
                }
                Column {
                    name: column.name,
                    data: ColumnData::Numeric(values),
                }
            }
            (_, data) => Column {
                name: column.name,
                data,
            },
        })
        .collect();
    Batch { columns }
}

/// The input with the columns `derive` makes from a column placed after it, the source kept
/// when `keep_source` is set. An input column under a name `derive` makes is a placeholder
/// (a feature the records do not carry) and gives way to the new column, which it must match
/// in kind: the host refuses a column that changes kind under its name (docs/preprocessors.md).
pub fn with_new_columns(
    input: Batch,
    keep_source: bool,
    mut derive: impl FnMut(&Column) -> Result<Option<Vec<Column>>>,
) -> Result<Batch> {
    let mut made = Vec::new();
    for column in &input.columns {
        if let Some(new) = derive(column)? {
            made.push((column.name.clone(), new));
        }
    }
    for (_, new) in &made {
        for column in new {
            if let Some(placeholder) = input.columns.iter().find(|c| c.name == column.name)
                && kind(&placeholder.data) != kind(&column.data)
            {
                return Err(Error::InvalidInput(format!(
                    "the input has a {} column `{}`, where a {} column goes; rename one of them",
                    kind_name(kind(&placeholder.data)),
                    column.name,
                    kind_name(kind(&column.data))
                )));
            }
        }
    }
    let new_names: HashSet<String> = made
        .iter()
        .flat_map(|(_, new)| new.iter().map(|c| c.name.clone()))
        .collect();
    let mut made = made.into_iter().peekable();
    let mut columns = Vec::new();
    for column in input.columns {
        let derived = match made.peek() {
            Some((source, _)) if *source == column.name => made.next().map(|(_, new)| new),
            _ => None,
        };
        match derived {
            Some(new) => {
                if keep_source {
                    columns.push(column);
                }
                columns.extend(new);
            }
            None if new_names.contains(&column.name) => {}
            None => columns.push(column),
        }
    }
    Ok(Batch { columns })
}

/// The checks of an input to transform: unique names and equal lengths, every configured
/// column present (`purpose` says what for), and the reference's columns in their kinds.
pub fn check_input(
    input: &Batch,
    required: &[String],
    kinds: &HashMap<String, ColumnKind>,
    purpose: &str,
) -> Result<()> {
    check_shape(input, "input")?;
    check_present(input, required, purpose)?;
    check_kinds(input, kinds)
}
