<?php
// Front controller: /<lang>/<page>, /sitemap.xml; / goes to the state language.
declare(strict_types=1);
require __DIR__ . '/lib/site.php';

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
if ($path === '/') {
    header('Location: /kk/', true, 302);
} elseif ($path === '/sitemap.xml') {
    sitemap();
} elseif (preg_match('#^/(kk|ru|en)/([a-z0-9-]*)$#', $path, $m)) {
    page($m[1], $m[2] === '' ? 'home' : $m[2], (string) ($_GET['q'] ?? ''));
} elseif (PHP_SAPI === 'cli-server' && is_file(__DIR__ . $path) && !str_contains($path, '..')) {
    return false; // php -S (release checks): serve the file itself
} else {
    not_found();
}
