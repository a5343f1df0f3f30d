# Reference values for tace.stats calibration measures on real data sets that ship with R
# packages: loess-based ICI/E50/E90/Emax (Austin & Steyerberg 2019), rms::val.prob's lowess
# versions, Brier and scaled Brier, O/E with its log-normal interval (Debray et al. 2017),
# and percentile bootstrap intervals (boot::boot, boot.ci(type = "perc")).
# Run from the repository root:  Rscript tests/reference/calibration_real_reference.R
# Writes tests/reference/data/calibration_real_data.csv and calibration_real_reference.json.
# Debian: r-base-core r-cran-rms r-cran-proc r-cran-survival r-cran-boot r-cran-jsonlite.
suppressPackageStartupMessages({library(rms); library(survival); library(boot)})
out_dir <- "tests/reference/data"

# Three real cohorts, each split into a development part, where a logistic model is fitted,
# and a validation part, whose outcomes and predicted probabilities are the reference data
# (so that the model is miscalibrated there, as in an external validation).
asah <- pROC::aSAH
asah_dev <- subset(asah, gender == "Female"); asah_val <- subset(asah, gender == "Male")
asah_fit <- glm(I(outcome == "Poor") ~ s100b + ndka + age, family = binomial, data = asah_dev)
colon_d <- subset(survival::colon, etype == 2)  # one row per patient: death
colon_d <- colon_d[complete.cases(colon_d[, c("status", "nodes", "age", "obstruct", "differ", "extent")]), ]
colon_dev <- subset(colon_d, rx == "Obs"); colon_val <- subset(colon_d, rx != "Obs")
colon_fit <- glm(status ~ nodes + age + obstruct + factor(differ) + factor(extent), family = binomial,
                 data = colon_dev)
pbc_d <- subset(survival::pbc, !is.na(trt))  # the 312 randomised patients
pbc_d <- pbc_d[complete.cases(pbc_d[, c("age", "bili", "albumin", "edema")]), ]
pbc_dev <- subset(pbc_d, trt == 1); pbc_val <- subset(pbc_d, trt == 2)
pbc_fit <- glm(I(status == 2) ~ age + log(bili) + albumin + edema, family = binomial, data = pbc_dev)
pred <- function(fit, d) unname(predict(fit, newdata = d, type = "response"))
data <- rbind(
  data.frame(dataset = "aSAH", y = as.integer(asah_val$outcome == "Poor"), p = pred(asah_fit, asah_val)),
  data.frame(dataset = "colon", y = as.integer(colon_val$status), p = pred(colon_fit, colon_val)),
  data.frame(dataset = "pbc", y = as.integer(pbc_val$status == 2), p = pred(pbc_fit, pbc_val)))
write.csv(data, file.path(out_dir, "calibration_real_data.csv"), row.names = FALSE)

loess_errors <- function(y, p) {  # Austin & Steyerberg (2019), appendix code
  cal <- loess(y ~ p)
  abs(predict(cal, newdata = data.frame(p = p)) - p)
}
measures <- function(y, p) {
  e <- loess_errors(y, p)
  brier <- mean((p - y)^2)
  o <- mean(y)
  c(brier = brier, scaled_brier = 1 - brier / (o * (1 - o)), ici = mean(e),
    e50 = unname(quantile(e, 0.5)), e90 = unname(quantile(e, 0.9)), emax = max(e))
}
res <- list(versions = list(R = R.version.string, rms = as.character(packageVersion("rms")),
                            boot = as.character(packageVersion("boot")),
                            survival = as.character(packageVersion("survival"))),
            n_boot = 2000, datasets = list())
for (name in unique(data$dataset)) {
  d <- data[data$dataset == name, ]
  m <- measures(d$y, d$p)
  vp <- val.prob(d$p, d$y, pl = FALSE)
  O <- sum(d$y); E <- sum(d$p); N <- nrow(d)
  se <- sqrt((1 - O / N) / O)
  set.seed(20261128)
  b <- boot(d, function(dd, i) measures(dd$y[i], dd$p[i]), R = res$n_boot)
  ci <- lapply(seq_along(m), function(k) {
    perc <- boot.ci(b, type = "perc", index = k)$percent[4:5]
    list(ci_low = perc[1], ci_high = perc[2], se = sd(b$t[, k]))
  })
  names(ci) <- names(m)
  res$datasets[[name]] <- list(
    n = N, events = O, loess = as.list(m),
    val_prob = list(brier = unname(vp["Brier"]), eavg = unname(vp["Eavg"]), e90 = unname(vp["E90"]),
                    emax = unname(vp["Emax"])),
    oe = list(estimate = O / E, ci_low = O / E * exp(-qnorm(0.975) * se), ci_high = O / E * exp(qnorm(0.975) * se)),
    bootstrap = ci,
    # the first 50 resamples (1-based row indices) and R's measures on each, for an exact check
    replicates = list(indices = boot.array(b, indices = TRUE)[1:50, ], t = b$t[1:50, ]),
    # logistic recalibration fitted on this cohort, validated by the optimism bootstrap
    validate = local({
      d$lp <- qlogis(d$p)
      set.seed(20261128)
      v <- validate(lrm(y ~ lp, data = d, x = TRUE, y = TRUE), B = res$n_boot)
      lapply(c(Dxy = "Dxy", Intercept = "Intercept", Slope = "Slope", B = "B"), function(k)
        list(index_orig = v[k, "index.orig"], optimism = v[k, "optimism"], corrected = v[k, "index.corrected"],
             n = v[k, "n"]))
    }))
}
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "calibration_real_reference.json"))
