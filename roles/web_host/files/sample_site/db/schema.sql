-- Schema of the sample site: the question-and-answer service (KNMU 5).
CREATE TABLE IF NOT EXISTS questions (
  id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  lang CHAR(2) NOT NULL,
  question VARCHAR(500) NOT NULL,
  answer TEXT NOT NULL,
  asked_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) DEFAULT CHARSET=utf8mb4;
INSERT INTO questions (lang, question, answer) VALUES
  ('kk', 'Құжаттарды қабылдау қашан басталады?', 'Маусымның 20-сынан бастап.'),
  ('ru', 'Когда начинается приём документов?', 'С 20 июня.'),
  ('en', 'When does admission open?', 'On 20 June.');
