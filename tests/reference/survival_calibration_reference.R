# Reference values for tace.stats.survival_calibration (calibration of predicted risk at a
# horizon, Austin, Harrell & van Klaveren 2020), computed with the authors' own recipe:
#   cph(Surv(time, status) ~ rcs(log(-log(1 - risk)), 3), x = TRUE, y = TRUE, surv = TRUE)
#   observed = 1 - survest(fit, newdata, times = t)$surv;  ICI = mean |risk - observed|
# on two real data sets: survival::pbc (the 312 trial patients, death as the event, a Cox
# model of age, log bilirubin, albumin and oedema; 5-year risk, n >= 100 knots by quantile)
# and survival::lung (a Cox model of age, sex and ph.ecog; 1-year risk on the first 90
# complete cases, so that rcspline.eval's n < 100 rule sets the outer knots).
# Run from the repository root:  Rscript tests/reference/survival_calibration_reference.R
# Debian: r-base-core r-cran-survival r-cran-rms r-cran-jsonlite.
suppressPackageStartupMessages({library(survival); library(rms)})
calib <- function(time, status, risk, t) {
  d <- data.frame(time = time, status = status, cll = log(-log(1 - risk)))
  dd <- datadist(d); options(datadist = dd)
  # eps: cph stops at a relative log-likelihood change of 1e-4 by default, which moved the
  # coefficients by up to 2e-3 relative; the tighter tolerance gives the converged fit
  fit <- cph(Surv(time, status) ~ rcs(cll, 3), data = d, x = TRUE, y = TRUE, surv = TRUE, eps = 1e-11, tol = 1e-14)
  obs <- 1 - survest(fit, newdata = d, times = t)$surv
  err <- abs(risk - obs)
  list(time = time, status = status, risk = risk, t = t,
       knots = rcspline.eval(d$cll, nk = 3, knots.only = TRUE),
       coef = unname(coef(fit)), observed = unname(obs), ici = mean(err), e50 = unname(median(err)),
       e90 = unname(quantile(err, 0.9)), emax = max(err))
}
p <- pbc[1:312, ]
p$dead <- as.numeric(p$status == 2)
m1 <- coxph(Surv(time, dead) ~ age + log(bili) + albumin + edema, data = p)
r1 <- 1 - summary(survfit(m1, newdata = p), times = 1826)$surv[1, ]
l <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog")])[1:90, ]
l$status <- l$status - 1
m2 <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = l)
r2 <- 1 - summary(survfit(m2, newdata = l), times = 365)$surv[1, ]
res <- list(rms_version = as.character(packageVersion("rms")),
            pbc = calib(p$time, p$dead, as.numeric(r1), 1826),
            lung = calib(l$time, l$status, as.numeric(r2), 365))
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/data/survival_calibration_reference.json")
