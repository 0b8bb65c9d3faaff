use super::*;

#[test]
fn parses_precedence_and_functions() {
    let e = parse("a or b and not c.systolic >= 180").unwrap();
    assert!(matches!(e, Expr::Or(ref v) if v.len() == 2));
    let e = parse("rise(weight_kg, 3d) > 2").unwrap();
    assert_eq!(
        e,
        Expr::Cmp(
            Operand::Rise(MeasurementKind::WeightKg, Duration::hours(72)),
            CmpOp::Gt,
            Literal::Number(2.0)
        )
    );
    let e = parse("sum(q1, q2) >= 3 and wound in ['pus', 'open']").unwrap();
    assert!(matches!(e, Expr::And(_)));
}

#[test]
fn parses_labs_with_their_window_and_baseline() {
    let e = parse("lab(ntprobnp) > 1.5 * baseline").unwrap();
    assert_eq!(
        e,
        Expr::Cmp(
            Operand::Lab(
                LabName("ntprobnp".into()),
                Duration::days(DEFAULT_LAB_WINDOW_DAYS)
            ),
            CmpOp::Gt,
            Literal::Baseline(1.5)
        )
    );
    let e = parse("lab(k, 7d) > 5.5 or lab(k) < 3").unwrap();
    assert_eq!(e.labs(), [LabName("k".into())]);
    assert!(matches!(
        e,
        Expr::Or(ref v) if matches!(v[0], Expr::Cmp(Operand::Lab(_, w), _, _) if w == Duration::days(7))
    ));
    assert_eq!(
        parse("lab(k) >= baseline").unwrap(),
        Expr::Cmp(
            Operand::Lab(LabName("k".into()), Duration::days(30)),
            CmpOp::Ge,
            Literal::Baseline(1.0)
        )
    );
    for bad in [
        "lab(K) > 5",
        "lab(k, 5) > 5",
        "lab(k) > 1.5 * weight",
        "lab() > 1",
        "lab(k > 5",
    ] {
        assert!(parse(bad).is_err(), "{bad} should not parse");
    }
    // baseline belongs to a lab comparison
    let e = parse("weight > 2 * baseline").unwrap();
    assert!(check(&e, &[]).unwrap_err().contains("lab(NAME)"));
    let e = parse("lab(k) > 0 * baseline").unwrap();
    assert!(check(&e, &[]).unwrap_err().contains("positive"));
    assert!(check(&parse("lab(k) > 5.5").unwrap(), &[]).is_ok());
    assert!(check(&parse("lab(k) == true").unwrap(), &[]).is_err());
}

#[test]
fn rejects_garbage() {
    for bad in [
        "",
        "a >",
        "a = 1",
        "(a",
        "rise(weight, 3d) > 1",
        "a b",
        "rise(sbp, 0d) > 1",
        "x.foo > 1",
    ] {
        assert!(parse(bad).is_err(), "{bad} should not parse");
    }
}

#[test]
fn nesting_is_bounded_instead_of_overflowing_the_stack() {
    let parens = |n: usize| format!("{}a > 1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&parens(MAX_DEPTH)).is_ok());
    for deep in [
        parens(MAX_DEPTH + 1),
        parens(100_000),
        format!("{}a > 1", "not ".repeat(100_000)),
    ] {
        let err = parse(&deep).unwrap_err();
        assert!(err.contains("nests deeper than 64"), "{err}");
    }
}
