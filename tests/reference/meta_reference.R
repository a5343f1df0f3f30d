# Reference values for tace.stats.meta (random-effects meta-analysis): metafor's rma on its
# own BCG vaccine data (dat.bcg, 13 trials, log risk ratios), REML, DerSimonian-Laird and
# Paule-Mandel, with the prediction interval of Higgins et al. (2009) on k - 2 df; and REML with
# the Hartung-Knapp-Sidik-Jonkman interval (test = "knha").
# Run from the repository root:  Rscript tests/reference/meta_reference.R
# Debian: r-base-core r-cran-metafor r-cran-jsonlite.
suppressPackageStartupMessages(library(metafor))
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
res <- list(version = as.character(packageVersion("metafor")), yi = as.numeric(dat$yi), vi = as.numeric(dat$vi),
            fits = list())
k <- nrow(dat)
for (m in c("REML", "DL", "PM")) {
  # tight tolerances: the defaults stop REML at a tau^2 change of 1e-5 and PM's uniroot at 1e-4
  r <- rma(yi, vi, data = dat, method = m, control = list(threshold = 1e-12, tol = 1e-14, maxiter = 1000))
  half <- qt(0.975, k - 2) * sqrt(r$tau2 + r$se^2)
  res$fits[[m]] <- list(estimate = as.numeric(r$b), se = r$se, ci_low = r$ci.lb, ci_high = r$ci.ub,
                        tau2 = r$tau2, i2 = r$I2, q = r$QE, q_p = r$QEp,
                        pi_low = as.numeric(r$b) - half, pi_high = as.numeric(r$b) + half)
}
# The Hartung-Knapp-Sidik-Jonkman interval (test = "knha"), REML
rk <- rma(yi, vi, data = dat, method = "REML", test = "knha",
          control = list(threshold = 1e-12, tol = 1e-14, maxiter = 1000))
res$knha <- list(estimate = as.numeric(rk$b), se = rk$se, ci_low = rk$ci.lb, ci_high = rk$ci.ub, tau2 = rk$tau2)
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/data/meta_reference.json")
