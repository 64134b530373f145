//! Verdicts that never pass falsely (issue 12): each case a small estate, the verdict or exit
//! code it must give, and the wrong answer it prevents.

mod evidence;
