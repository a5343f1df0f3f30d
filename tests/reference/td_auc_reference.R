# Reference values for tace.stats.time_dependent_auc and survival_brier: riskRegression::Score's
# IPCW cumulative/dynamic AUC (cases weighted 1/G(T-), controls 1/G(t), reverse Kaplan-Meier
# G) with its influence-function standard error, and its IPCW Brier score at t with the
# index of prediction accuracy (IPA, against the Kaplan-Meier null model), on real data sets
# shipped with survival.
# Run from the repository root:  Rscript tests/reference/td_auc_reference.R
# Debian: r-base-core r-cran-riskregression r-cran-survival r-cran-jsonlite.
suppressPackageStartupMessages({library(riskRegression); library(survival)})
out_dir <- "tests/reference/data"
pbc <- subset(survival::pbc, !is.na(trt))
pbc <- data.frame(dataset = "pbc", time = pbc$time, status = as.integer(pbc$status == 2),
                  risk = 0.01 * pbc$age + log(pbc$bili))
vet <- survival::veteran
vet <- data.frame(dataset = "veteran", time = vet$time, status = vet$status, risk = -vet$karno)  # ties in karno
col <- subset(survival::colon, etype == 2 & !is.na(nodes))
col <- data.frame(dataset = "colon", time = col$time, status = col$status, risk = col$nodes + 2 * col$extent)
data <- rbind(pbc, vet, col)
write.csv(data, file.path(out_dir, "td_auc_data.csv"), row.names = FALSE)
horizons <- list(pbc = c(1000, 1500, 2500), veteran = c(30, 100, 200), colon = c(365, 1000, 2000))
res <- list(versions = list(R = R.version.string, riskRegression = as.character(packageVersion("riskRegression"))),
            datasets = list())
for (name in names(horizons)) {
  d <- data[data$dataset == name, ]
  sc <- Score(list(m = d$risk), formula = Hist(time, status) ~ 1, data = d, times = horizons[[name]],
              metrics = "auc", cens.model = "km", null.model = FALSE)
  a <- sc$AUC$score
  res$datasets[[name]] <- list(times = a$times, auc = a$AUC, se = a$se)
}
# Brier and IPA of a Cox model's predicted risk by t (fitted in-sample on the marker)
brier_rows <- list()
for (name in c("pbc", "colon")) {
  d <- data[data$dataset == name, ]
  fit <- survival::coxph(Surv(time, status) ~ risk, data = d)
  tt <- horizons[[name]]
  F <- t(1 - summary(survival::survfit(fit, newdata = d), times = tt)$surv)  # n x horizons
  sc <- Score(list(cox = F), formula = Hist(time, status) ~ 1, data = d, times = tt, metrics = "brier",
              cens.model = "km", null.model = TRUE, summary = "ipa")
  b <- sc$Brier$score
  res$datasets[[name]]$brier <- list(model = b[model == "cox"]$Brier, null = b[model == "Null model"]$Brier,
                                     ipa = b[model == "cox"]$IPA)
  colnames(F) <- paste0("risk_", tt)
  brier_rows[[name]] <- data.frame(dataset = name, d[, c("time", "status")], F, check.names = FALSE)
}
write.csv(brier_rows$pbc, file.path(out_dir, "td_brier_pbc.csv"), row.names = FALSE)
write.csv(brier_rows$colon, file.path(out_dir, "td_brier_colon.csv"), row.names = FALSE)
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "td_auc_reference.json"))

# Uno's C truncated at tau: survival::concordance(timewt = "n/G2", ymax = tau)
uno <- list()
for (name in c("pbc", "veteran", "colon")) {
  d <- data[data$dataset == name, ]
  taus <- horizons[[name]]
  uno[[name]] <- lapply(taus, function(tau) {
    c1 <- concordance(Surv(time, status) ~ risk, data = d, timewt = "n/G2", ymax = tau, reverse = TRUE)
    list(tau = tau, c = unname(c1$concordance), se = sqrt(unname(c1$var)))
  })
}
writeLines(jsonlite::toJSON(uno, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "uno_c_reference.json"))
