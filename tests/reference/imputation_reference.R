# Reference values for tace.models.imputation (the conditional models of chained equations)
# and tace.stats.pooling (Rubin's rules), from R on data sets that ship with R packages.
#  - Conditional models: survival::pbc, the 312 trial patients with complete age, sex, hepato,
#    ascites, bili, albumin and platelet: lm of each continuous predictor (bilirubin on the
#    log scale) and glm(binomial) of each binary one on all the others, as mice's norm and
#    logreg methods fit them (coefficients, (X'X)^-1 and the residual sum of squares).
#  - Rubin's rules: mice 3.15 on its own nhanes data (m = 5, seed 1, pmm), lm(chl ~ age + bmi)
#    in each imputation, pooled by mice::pool (Barnard-Rubin df with dfcom = n - k); and
#    pool.scalar with dfcom infinite.
# Run from the repository root:  Rscript tests/reference/imputation_reference.R
# Debian: r-base-core r-cran-survival r-cran-mice r-cran-jsonlite.
suppressPackageStartupMessages({library(survival); library(mice)})
d <- pbc[1:312, c("age", "sex", "hepato", "ascites", "bili", "albumin", "platelet")]
d$sex <- as.numeric(d$sex == "f")
d$bili <- log(d$bili)
d <- d[complete.cases(d), ]
binary <- c("sex", "hepato", "ascites")
models <- list()
for (v in names(d)) {
  f <- reformulate(setdiff(names(d), v), response = v)
  if (v %in% binary) {
    fit <- glm(f, data = d, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
    models[[v]] <- list(coef = unname(coef(fit)), v = unname(vcov(fit)))
  } else {
    fit <- lm(f, data = d)
    models[[v]] <- list(coef = unname(coef(fit)), v = unname(summary(fit)$cov.unscaled),
                        sse = sum(residuals(fit)^2), df = fit$df.residual)
  }
}
imp <- mice(nhanes, m = 5, seed = 1, printFlag = FALSE)
fits <- with(imp, lm(chl ~ age + bmi))
per <- lapply(fits$analyses, function(f) list(est = unname(coef(f)), var = unname(diag(vcov(f)))))
pooled <- pool(fits)$pooled
s <- summary(pool(fits), conf.int = TRUE)
scalar <- pool.scalar(c(0.71, 0.74, 0.69, 0.73, 0.70), c(0.0016, 0.0015, 0.0017, 0.0016, 0.0018))
res <- list(mice_version = as.character(packageVersion("mice")), pbc = d, n_pbc = nrow(d), models = models,
            nhanes = list(estimates = t(sapply(per, `[[`, "est")), variances = t(sapply(per, `[[`, "var")),
                          dfcom = pooled$dfcom[1], qbar = pooled$estimate, ubar = pooled$ubar, b = pooled$b,
                          t = pooled$t, df = pooled$df, riv = pooled$riv, fmi = pooled$fmi,
                          ci_low = s[["2.5 %"]], ci_high = s[["97.5 %"]]),
            scalar = list(q = scalar$qhat, u = scalar$u, qbar = scalar$qbar, t = scalar$t, df = scalar$df,
                          r = scalar$r, fmi = scalar$fmi))
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE, dataframe = "columns"),
           "tests/reference/data/imputation_reference.json")
