# Reference values for tace.stats.proportional_hazards (the proportional-hazards check of a
# Cox model): survival::cox.zph (survival 3.5, the score test of Grambsch & Therneau with the
# Kaplan-Meier time transform, its default) on two of R's own data sets: veteran (137
# patients, many tied times, Efron ties) and lung (complete cases of age, sex, ph.ecog).
# Also the scaled Schoenfeld residuals (cox.zph(...)$y) and their transformed times ($x).
# Run from the repository root:  Rscript tests/reference/cox_zph_reference.R
# Debian: r-base-core r-cran-survival r-cran-jsonlite.
suppressPackageStartupMessages(library(survival))
one <- function(d, formula, name) {
  fit <- coxph(formula, data = d, ties = "efron", x = TRUE, y = TRUE, model = TRUE, control = coxph.control(eps = 1e-11, toler.chol = 1e-13, iter.max = 100))
  out <- list()
  for (tr in c("km", "identity", "rank", "log")) {
    z <- cox.zph(fit, transform = tr)
    out[[tr]] <- list(chisq = unname(z$table[, "chisq"]), df = unname(z$table[, "df"]), p = unname(z$table[, "p"]),
                      terms = rownames(z$table), x = unname(z$x), time = unname(z$time), y = unname(z$y))
  }
  list(name = name, coef = unname(coef(fit)), zph = out)
}
lung2 <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog")])
lung2$status <- lung2$status - 1
res <- list(version = as.character(packageVersion("survival")),
            veteran = c(one(veteran, Surv(time, status) ~ karno + age + trt + prior, "veteran"),
                        list(data = veteran[, c("time", "status", "karno", "age", "trt", "prior")])),
            lung = c(one(lung2, Surv(time, status) ~ age + sex + ph.ecog, "lung"), list(data = lung2)))
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE, dataframe = "columns"),
           "tests/reference/data/cox_zph_reference.json")
