# Reference values for tace.stats calibration, thresholds and net benefit.
# Run from the repository root:  Rscript tests/reference/calibration_reference.R
# Writes tests/reference/data/calibration_data.csv and calibration_reference.json.
# R 4.x with rms and pROC (Debian: r-cran-rms, r-cran-proc); versions recorded in the JSON.
suppressPackageStartupMessages(library(rms))
set.seed(20261128)
out_dir <- "tests/reference/data"

make <- function(name, n, a, b) {
  lp_true <- rnorm(n, -0.3, 1.2)
  y <- as.integer(runif(n) < plogis(lp_true))
  p <- plogis(a + b * lp_true + rnorm(n, sd = 0.3))  # a miscalibrated model of the truth
  data.frame(dataset = name, y = y, p = p)
}
data <- rbind(make("well", 400, 0, 1), make("over", 300, 0.5, 1.6), make("small", 60, -0.4, 0.7))
write.csv(data, file.path(out_dir, "calibration_data.csv"), row.names = FALSE)

hoslem <- function(y, p, g = 10) {  # as ResourceSelection::hoslem.test
  cutp <- cut(p, breaks = quantile(p, probs = seq(0, 1, 1 / g)), include.lowest = TRUE)
  obs <- xtabs(cbind(1 - y, y) ~ cutp)
  expect <- xtabs(cbind(1 - p, p) ~ cutp)
  chisq <- sum((obs - expect)^2 / expect)
  list(statistic = chisq, df = g - 2, p_value = 1 - pchisq(chisq, g - 2))
}

res <- list(versions = list(R = R.version.string, rms = as.character(packageVersion("rms")),
                          pROC = as.character(packageVersion("pROC"))),
            datasets = list())
for (name in unique(data$dataset)) {
  d <- data[data$dataset == name, ]
  lp <- qlogis(d$p)
  tight <- glm.control(epsilon = 1e-14, maxit = 100)  # converge well past the test tolerance
  citl <- glm(y ~ offset(lp), family = binomial, data = d, control = tight)
  slope <- glm(y ~ lp, family = binomial, data = d, control = tight)
  vp <- val.prob(d$p, d$y, pl = FALSE)
  Sm <- lowess(d$p, d$y, iter = 0)  # the smoother inside val.prob, for E50
  er <- abs(d$p - approx(Sm, xout = d$p, ties = mean)$y)
  youden <- pROC::coords(pROC::roc(d$y, d$p, levels = c(0, 1), direction = "<", quiet = TRUE),
                   "best", best.method = "youden", ret = "threshold", transpose = FALSE)$threshold
  thr <- 0.4
  called <- d$p >= thr
  tp <- sum(called & d$y == 1); fp <- sum(called & d$y == 0)
  fn <- sum(!called & d$y == 1); tn <- sum(!called & d$y == 0)
  wilson <- function(x, n) as.numeric(prop.test(x, n, correct = FALSE)$conf.int)
  exact <- function(x, n) as.numeric(binom.test(x, n)$conf.int)
  thresholds <- c(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
  nb <- sapply(thresholds, function(t) {  # net benefit, Vickers & Elkin 2006
    tpt <- sum(d$p >= t & d$y == 1); fpt <- sum(d$p >= t & d$y == 0); n <- nrow(d)
    tpt / n - fpt / n * t / (1 - t)
  })
  prev <- mean(d$y)
  nb_all <- prev - (1 - prev) * thresholds / (1 - thresholds)
  res$datasets[[name]] <- list(
    citl = unname(coef(citl)[1]), citl_ci = unname(confint.default(citl)[1, ]),
    slope = unname(coef(slope)[2]), slope_ci = unname(confint.default(slope)[2, ]),
    brier = unname(vp["Brier"]), eavg = unname(vp["Eavg"]), e90 = unname(vp["E90"]),
    emax = unname(vp["Emax"]), e50 = unname(quantile(er, 0.5)),
    hosmer_lemeshow = hoslem(d$y, d$p),
    youden_threshold = youden,
    metrics_at_0.4 = list(
      accuracy = c((tp + tn) / nrow(d), wilson(tp + tn, nrow(d)), exact(tp + tn, nrow(d))),
      sensitivity = c(tp / (tp + fn), wilson(tp, tp + fn), exact(tp, tp + fn)),
      specificity = c(tn / (tn + fp), wilson(tn, tn + fp), exact(tn, tn + fp)),
      ppv = c(tp / (tp + fp), wilson(tp, tp + fp), exact(tp, tp + fp)),
      npv = c(tn / (tn + fn), wilson(tn, tn + fn), exact(tn, tn + fn))),
    net_benefit = list(thresholds = thresholds, model = nb, all = nb_all))
}
writeLines(jsonlite::toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "calibration_reference.json"))
