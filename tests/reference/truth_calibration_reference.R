# Reference values for tace.stats.truth_calibration: calibration intercept and slope of
# predictions against the true probabilities, by a quasi-binomial GLM with a fractional
# response (the true probability).
# Run from the repository root:  Rscript tests/reference/truth_calibration_reference.R
# Writes tests/reference/data/truth_calibration_data.csv and truth_calibration_reference.json.
# R 4.x (stats only); the version is recorded in the JSON.
set.seed(20261203)
out_dir <- "tests/reference/data"
n <- 300
lp_true <- rnorm(n, -0.2, 1.3)
p_true <- plogis(lp_true)
# predictions too extreme (slope < 1) with noise, too moderate (slope > 1), and shifted
too_extreme <- plogis(0.3 + 1.6 * lp_true + rnorm(n, 0, 0.5))
too_moderate <- plogis(-0.4 + 0.5 * lp_true + rnorm(n, 0, 0.3))
data <- data.frame(p_true, too_extreme, too_moderate)
write.csv(data, file.path(out_dir, "truth_calibration_data.csv"), row.names = FALSE)
coefs <- function(pred) {
  fit <- suppressWarnings(glm(p_true ~ qlogis(pred), family = quasibinomial, data = data))
  c(intercept = unname(coef(fit)[1]), slope = unname(coef(fit)[2]))
}
num <- function(x) formatC(x, digits = 17, format = "g")
entry <- function(name) {
  b <- coefs(data[[name]])
  sprintf('    "%s": {"intercept": %s, "slope": %s}', name, num(b[["intercept"]]), num(b[["slope"]]))
}
lines <- c("{", '  "source": "coef(glm(p_true ~ qlogis(pred), family = quasibinomial))",',
           sprintf('  "r_version": "%s",', R.version.string), '  "models": {',
           paste(sapply(c("too_extreme", "too_moderate"), entry), collapse = ",\n"), "  }", "}")
writeLines(lines, file.path(out_dir, "truth_calibration_reference.json"))
