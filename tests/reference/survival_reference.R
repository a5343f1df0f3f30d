# Reference values for tace.stats survival functions, computed with the survival package.
# Run from the repository root:  Rscript tests/reference/survival_reference.R
# Writes tests/reference/data/survival_data.csv and survival_reference.json.
# R 4.x with survival (Debian: r-cran-survival); versions recorded in the JSON.
suppressPackageStartupMessages(library(survival))
set.seed(20261129)
out_dir <- "tests/reference/data"

n <- 117
score <- rnorm(n)
age <- round(rnorm(n, 60, 10))
cp_b <- as.integer(runif(n) < 0.2)
lp <- 0.9 * score + 0.02 * (age - 60) + 0.4 * cp_b
t_event <- 24 / log(2)^(1 / 1.2) * (rexp(n) * exp(-lp))^(1 / 1.2)
t_cens <- pmin(runif(n, 6, 66), rexp(n, 0.005))
time <- pmax(round(pmin(t_event, t_cens)), 1)   # whole months: many tied times
status <- as.integer(t_event <= t_cens)
group <- ifelse(score > median(score), "high", "low")
data <- data.frame(time, status, score, age, cp_b, group)
write.csv(data, file.path(out_dir, "survival_data.csv"), row.names = FALSE)

km_rows <- function(fit) {
  s <- summary(fit, censored = TRUE)
  out <- data.frame(time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                    surv = s$surv, lower = s$lower, upper = s$upper)
  if (!is.null(s$strata)) out$group <- sub("group=", "", as.character(s$strata))
  out
}
km_all <- km_rows(survfit(Surv(time, status) ~ 1, data = data, conf.type = "log-log"))
km_grp <- km_rows(survfit(Surv(time, status) ~ group, data = data, conf.type = "log-log"))
sd <- survdiff(Surv(time, status) ~ group, data = data)
fit <- coxph(Surv(time, status) ~ score + age + cp_b, data = data, ties = "efron",
             control = coxph.control(eps = 1e-10, iter.max = 100))
sm <- summary(fit)
cc <- concordance(Surv(time, status) ~ score, data = data, reverse = TRUE)
res <- list(
  versions = list(R = R.version.string, survival = as.character(packageVersion("survival"))),
  km = km_all, km_by_group = km_grp,
  logrank = list(chisq = sd$chisq, df = length(sd$n) - 1,
                 p_value = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE)),
  cox = list(covariate = rownames(sm$coefficients), coef = unname(sm$coefficients[, "coef"]),
             se = unname(sm$coefficients[, "se(coef)"]), hr = unname(sm$conf.int[, "exp(coef)"]),
             lower = unname(sm$conf.int[, "lower .95"]), upper = unname(sm$conf.int[, "upper .95"]),
             z = unname(sm$coefficients[, "z"]), p = unname(sm$coefficients[, "Pr(>|z|)"])),
  concordance = list(c = unname(cc$concordance), var = unname(cc$var),
                     count = as.list(cc$count)))
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE, dataframe = "columns"),
           file.path(out_dir, "survival_reference.json"))
